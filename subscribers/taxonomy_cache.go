package subscribers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// KeyTaxonomyVersion is bumped after every change of the taxonomy, whichever
// instance makes it. It carries the alerts' hash tag, not the taxonomy's:
// the alert log's append script reads it in the publish's own step (see
// notifier.Service.Publish), so a publish checked against this instance's
// copy of the taxonomy is refused when another instance changed it since.
const KeyTaxonomyVersion = "flashwire:v1:{alerts}:taxonomy:version"

// slugCache is one instance's copy of the taxonomy, with the version it was
// read at. It is only a hint: whoever uses it hands the version to a step
// that compares it with KeyTaxonomyVersion (CachedSlugs).
type slugCache struct {
	mu              sync.Mutex // guards the fields below
	loaded          bool
	version         int64
	topics, regions map[string]bool
}

// CachedSlugs returns the topic and region slugs as this instance last read
// them, reading them on first use and after ForgetSlugs, with the taxonomy
// version they are at least as new as. A caller that acts on them must have
// that version checked in Redis in the same step it acts in (the alert
// log's append does), and call ForgetSlugs when it moved. The maps are
// shared: callers must not modify them.
func (s *Store) CachedSlugs(ctx context.Context) (topics, regions map[string]bool, version int64, err error) {
	c := &s.slugs
	c.mu.Lock()
	if c.loaded {
		defer c.mu.Unlock()
		return c.topics, c.regions, c.version, nil
	}
	c.mu.Unlock()
	// The version is read before the sets, in its own round trip (another
	// slot on Cluster): a change between the two leaves newer sets under an
	// older version, which the next check refuses, never the reverse.
	v, err := s.rdb.Get(ctx, KeyTaxonomyVersion).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, 0, fmt.Errorf("load taxonomy version: %w", err)
	}
	topics, regions, err = s.KnownSlugs(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded || c.version < v {
		c.loaded, c.version, c.topics, c.regions = true, v, topics, regions
	}
	return topics, regions, v, nil
}

// ForgetSlugs drops this instance's copy of the taxonomy, so the next
// CachedSlugs reads it again.
func (s *Store) ForgetSlugs() {
	c := &s.slugs
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded, c.topics, c.regions = false, nil, nil
}

// TaxonomyVersionKey names KeyTaxonomyVersion for callers that see the
// Store through an interface.
func (s *Store) TaxonomyVersionKey() string { return KeyTaxonomyVersion }

// taxonomyChanged bumps the taxonomy version after a change, even one that
// failed (it may have applied), and drops this instance's copy; other
// instances' copies are refused at their next publish. Bumping after the
// change, not before, is what keeps a copy read in between from passing.
// It returns err, or the bump's error when err is nil.
func (s *Store) taxonomyChanged(ctx context.Context, err error) error {
	s.ForgetSlugs()
	if berr := s.rdb.Incr(context.WithoutCancel(ctx), KeyTaxonomyVersion).Err(); berr != nil && err == nil {
		return fmt.Errorf("bump taxonomy version: %w", berr)
	}
	s.ForgetSlugs()
	return err
}
