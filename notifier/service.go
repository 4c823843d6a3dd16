package notifier

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"flashwire"
)

// Taxonomy tells which topic and region slugs exist. subscribers.Store is one.
type Taxonomy interface {
	KnownSlugs(ctx context.Context) (topics, regions map[string]bool, err error)
}

// CachedTaxonomy is a Taxonomy that keeps a copy of the slugs in memory
// under a version key (subscribers.Store is one). Publish checks an alert
// against the copy and has the append compare the version in its own step,
// so a publish costs one round trip, and a slug removed on any instance is
// refused by every other at once.
type CachedTaxonomy interface {
	Taxonomy
	// CachedSlugs returns the copy and the version it is at least as new as.
	CachedSlugs(ctx context.Context) (topics, regions map[string]bool, version int64, err error)
	// ForgetSlugs drops the copy.
	ForgetSlugs()
	// TaxonomyVersionKey names the version key; it carries the alerts'
	// hash tag.
	TaxonomyVersionKey() string
}

// maxStaleTaxonomy bounds how many times a publish checks again after the
// taxonomy changed under it.
const maxStaleTaxonomy = 5

// Service publishes alerts: it validates them and appends them to the log,
// from which every channel takes them.
type Service struct {
	log      *Log
	taxonomy Taxonomy
	// Now is the clock; tests replace it.
	Now func() time.Time
	// MinGap is the newsroom-wide minimum time between non-flash alerts
	// (see Publish); zero turns the guard off.
	MinGap time.Duration
	// ScheduleLease is how long an instance may take to publish a scheduled
	// alert it claimed before another instance claims it again; zero means
	// DefaultScheduleLease.
	ScheduleLease time.Duration
}

// NewService returns a Service writing to log and checking topics and regions
// against taxonomy.
func NewService(log *Log, taxonomy Taxonomy) *Service {
	return &Service{log: log, taxonomy: taxonomy, Now: time.Now}
}

// Alert returns the current state of the alert with the given id; its error
// wraps flashwire.ErrNotFound for an unknown or expired one.
func (s *Service) Alert(ctx context.Context, id string) (flashwire.Alert, error) {
	return s.log.Alert(ctx, id)
}

// Check normalizes a and returns a *flashwire.InvalidError naming every
// field at fault, or nil.
func (s *Service) Check(ctx context.Context, a *flashwire.Alert) error {
	a.Normalize()
	topics, regions, err := s.taxonomy.KnownSlugs(ctx)
	if err != nil {
		return fmt.Errorf("load taxonomy: %w", err)
	}
	var bad flashwire.InvalidError
	a.Validate(&bad, topics, regions)
	return bad.Err()
}

// checkCached is Check against the taxonomy's copy when it keeps one, and
// sets g's taxonomy key and version for the append to compare; without a
// copy it is Check and leaves g as it is.
func (s *Service) checkCached(ctx context.Context, a *flashwire.Alert, g *guards) error {
	ct, ok := s.taxonomy.(CachedTaxonomy)
	if !ok {
		return s.Check(ctx, a)
	}
	a.Normalize()
	for fresh := false; ; fresh = true {
		topics, regions, version, err := ct.CachedSlugs(ctx)
		if err != nil {
			return fmt.Errorf("load taxonomy: %w", err)
		}
		var bad flashwire.InvalidError
		a.Validate(&bad, topics, regions)
		if err := bad.Err(); err == nil {
			g.taxonomyKey, g.taxonomyVersion = ct.TaxonomyVersionKey(), version
			return nil
		} else if fresh {
			return err
		}
		// The copy may predate a slug added since: refuse only on the
		// taxonomy as it is now.
		ct.ForgetSlugs()
	}
}

// PublishOptions waive the guards of Publish. The zero value applies every
// guard: callers say what they waive, and why, where they call.
type PublishOptions struct {
	// Force sends even when the same url and headline went out within
	// DuplicateWindow.
	Force bool
	// SkipGap ignores the minimum gap between non-flash alerts: scheduled
	// alerts had their time chosen in advance, and the gap only guards
	// against impulsive pushes.
	SkipGap bool
	// Once, when set, names what is being published (a schedule id, a feed
	// story) so that it goes out exactly once: a publish under a Once that
	// already published an alert sends nothing and returns that alert, even
	// when the first publish's caller died before learning its result.
	Once string
}

// Publish checks a, applies the newsroom's guards and appends it to the
// alert log, from which every channel takes it. The returned alert carries
// its id and publish time.
//
// The guards, each waived only by opts: the same url and headline within
// DuplicateWindow is refused with a *DuplicateError (opts.Force waives it);
// with MinGap set, a non-flash alert less than MinGap after the previous
// non-flash one is refused with a *TooSoonError (opts.SkipGap waives it).
// Both checks are atomic across instances. A duplicate of an alert since
// retracted is not refused: sending it again is the correction.
//
// With opts.Once set and an alert already published under it, nothing is
// sent, no guard is consulted, and that alert is returned with repeat true.
// Otherwise the once key is taken in the same atomic step that appends the
// alert, so of two instances publishing under one key at once, one sends and
// the other gets its alert.
func (s *Service) Publish(ctx context.Context, a flashwire.Alert, opts PublishOptions) (_ flashwire.Alert, repeat bool, _ error) {
	if opts.Once != "" {
		// Before the guards: a retried publish would otherwise be refused
		// as a duplicate of itself.
		prev, ok, err := s.PublishedOnce(ctx, opts.Once)
		if err != nil {
			return flashwire.Alert{}, false, err
		}
		if ok {
			return prev, true, nil
		}
	}
	g := &guards{}
	if err := s.checkCached(ctx, &a, g); err != nil {
		return flashwire.Alert{}, false, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	g.keys, g.nowMS, g.force = []string{dedupeKey(a), keyGap}, strconv.FormatInt(now.UnixMilli(), 10), opts.Force
	if s.MinGap > 0 && a.Priority != flashwire.Flash && !opts.SkipGap {
		g.gap = max(s.MinGap.Milliseconds(), 1)
	}
	stale := 0
	for {
		// The guards, and the taxonomy's version when a's check used a
		// copy, are checked in the append's own step.
		published, repeat, no, err := s.publishChecked(ctx, a, opts.Once, g)
		switch {
		case err != nil:
			return flashwire.Alert{}, false, err
		case no.kind == "taxonomy":
			// The taxonomy changed since this instance's copy: check again
			// against it as it is now.
			s.taxonomy.(CachedTaxonomy).ForgetSlugs()
			if stale++; stale >= maxStaleTaxonomy {
				return flashwire.Alert{}, false, fmt.Errorf("publish %q: the taxonomy kept changing", a.Headline)
			}
			if err := s.checkCached(ctx, &a, g); err != nil {
				return flashwire.Alert{}, false, err
			}
			continue
		case no.kind == "dup":
			if strings.HasPrefix(no.detail, "pending:") {
				// An earlier version's publish, under way.
				return flashwire.Alert{}, false, &DuplicateError{}
			}
			existing, err := s.log.Alert(ctx, no.detail)
			if errors.Is(err, flashwire.ErrNotFound) || (err == nil && existing.Retracted) {
				g.force = true
				continue
			}
			if err != nil {
				return flashwire.Alert{}, false, err
			}
			return flashwire.Alert{}, false, &DuplicateError{Existing: existing}
		case no.kind == "gap":
			ms, _ := strconv.ParseInt(no.detail, 10, 64)
			return flashwire.Alert{}, false, &TooSoonError{RetryAfter: time.Duration(ms) * time.Millisecond}
		}
		return published, repeat, nil
	}
}

// publishChecked is Publish for an alert that passed Check, under the once
// key once ("" for none) and the guards g; repeat reports that once had
// already published the returned alert, no the guard that refused it.
func (s *Service) publishChecked(ctx context.Context, a flashwire.Alert, once string, g *guards) (_ flashwire.Alert, repeat bool, no refusal, _ error) {
	a.PublishedAt = s.Now().UTC().Truncate(time.Millisecond)
	a.UpdatedAt = time.Time{}
	a.Retracted = false
	ev, repeat, no, err := s.log.appendGuarded(ctx, flashwire.Event{Type: flashwire.Published, Alert: a}, once, g)
	if err != nil {
		return flashwire.Alert{}, false, refusal{}, fmt.Errorf("publish %q: %w", a.Headline, err)
	}
	return ev.Alert, repeat, no, nil
}

// PublishedOnce returns the alert published under the once key (see
// PublishOptions.Once), with ok false when none was. It publishes nothing:
// it settles what a publish cut short by a crash did. An alert whose state
// has expired comes back with its id alone.
func (s *Service) PublishedOnce(ctx context.Context, once string) (_ flashwire.Alert, ok bool, _ error) {
	id, err := s.log.OnceID(ctx, once)
	if err != nil || id == "" {
		return flashwire.Alert{}, false, err
	}
	a, err := s.log.Alert(ctx, id)
	if errors.Is(err, flashwire.ErrNotFound) {
		return flashwire.Alert{ID: id}, true, nil
	}
	if err != nil {
		return flashwire.Alert{}, false, err
	}
	return a, true, nil
}

// Update replaces the text and targeting of the alert with the given id by
// a's, keeping its id and publish time, and appends an Updated event:
// browsers replace the banner, partners get alert.updated.
func (s *Service) Update(ctx context.Context, id string, a flashwire.Alert) (flashwire.Alert, error) {
	cur, err := s.log.Alert(ctx, id)
	if err != nil {
		return flashwire.Alert{}, err
	}
	if cur.Retracted {
		return flashwire.Alert{}, fmt.Errorf("update alert %s: %w", id, ErrRetracted)
	}
	if err := s.Check(ctx, &a); err != nil {
		return flashwire.Alert{}, err
	}
	a.ID, a.PublishedAt = cur.ID, cur.PublishedAt
	a.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	ev, err := s.log.Append(ctx, flashwire.Event{Type: flashwire.Updated, Alert: a})
	if err != nil {
		return flashwire.Alert{}, fmt.Errorf("update alert %s: %w", id, err)
	}
	return ev.Alert, nil
}

// Retract withdraws the alert with the given id and appends a Retracted
// event: browsers remove the banner, partners get alert.retracted.
// Retracting twice is an error, so a partner never gets two retractions.
func (s *Service) Retract(ctx context.Context, id string) (flashwire.Alert, error) {
	cur, err := s.log.Alert(ctx, id)
	if err != nil {
		return flashwire.Alert{}, err
	}
	if cur.Retracted {
		return flashwire.Alert{}, fmt.Errorf("retract alert %s: %w", id, ErrRetracted)
	}
	cur.Retracted = true
	cur.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	ev, err := s.log.Append(ctx, flashwire.Event{Type: flashwire.Retracted, Alert: cur})
	if err != nil {
		return flashwire.Alert{}, fmt.Errorf("retract alert %s: %w", id, err)
	}
	return ev.Alert, nil
}
