package subscribers

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// DefaultTopics and DefaultRegions are what a new installation starts with.
var (
	DefaultTopics  = []string{"world", "politics", "business", "technology", "science", "health", "sport", "culture", "climate"}
	DefaultRegions = []string{"international", "europe", "americas", "asia", "africa", "middle-east", "uk", "us"}
)

const (
	keyTopics  = "flashwire:v1:{taxonomy}:topics"
	keyRegions = "flashwire:v1:{taxonomy}:regions"
	keySeeded  = "flashwire:v1:{taxonomy}:seeded"
)

// Seed writes the default taxonomy once per installation; an admin's later
// changes are never overwritten.
func (s *Store) Seed(ctx context.Context) error {
	first, err := s.rdb.SetNX(ctx, keySeeded, "1", 0).Result()
	if err != nil {
		return fmt.Errorf("seed taxonomy: %w", err)
	}
	if !first {
		return nil
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, keyTopics, toAny(DefaultTopics)...)
		p.SAdd(ctx, keyRegions, toAny(DefaultRegions)...)
		return nil
	})
	if err := s.taxonomyChanged(ctx, err); err != nil {
		return fmt.Errorf("seed taxonomy: %w", err)
	}
	return nil
}

// KnownSlugs returns the sets of topic and region slugs.
func (s *Store) KnownSlugs(ctx context.Context) (topics, regions map[string]bool, err error) {
	var t, r *redis.StringSliceCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		t = p.SMembers(ctx, keyTopics)
		r = p.SMembers(ctx, keyRegions)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load taxonomy: %w", err)
	}
	return toSet(t.Val()), toSet(r.Val()), nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func toSet(ss []string) map[string]bool {
	out := make(map[string]bool, len(ss))
	for _, s := range ss {
		out[s] = true
	}
	return out
}

// Taxonomy returns the topic and region slugs, sorted.
func (s *Store) Taxonomy(ctx context.Context) (topics, regions []string, err error) {
	t, r, err := s.KnownSlugs(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sortedKeys(t), sortedKeys(r), nil
}

// AddSlugs adds topics and regions to the taxonomy, in one transaction,
// after checking every slug; adding a known slug is not an error.
func (s *Store) AddSlugs(ctx context.Context, topics, regions []string) error {
	topics, regions = flashwire.NormalizeSlugs(topics), flashwire.NormalizeSlugs(regions)
	var bad flashwire.InvalidError
	for _, f := range []struct {
		field string
		slugs []string
	}{{"topics", topics}, {"regions", regions}} {
		if len(f.slugs) > MaxSlugs {
			bad.Add(f.field, "has %d entries; at most %d allowed at once", len(f.slugs), MaxSlugs)
			continue
		}
		for _, slug := range f.slugs {
			if !flashwire.ValidSlug(slug) {
				bad.Add(f.field, "%q is not a slug (lower-case letters, digits and hyphens, at most 64)", slug)
				break
			}
		}
	}
	if len(topics)+len(regions) == 0 {
		bad.Add("topics", "name at least one topic or region to add")
	}
	if err := bad.Err(); err != nil {
		return err
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(topics) > 0 {
			p.SAdd(ctx, keyTopics, toAny(topics)...)
		}
		if len(regions) > 0 {
			p.SAdd(ctx, keyRegions, toAny(regions)...)
		}
		return nil
	})
	if err := s.taxonomyChanged(ctx, err); err != nil {
		return fmt.Errorf("add to taxonomy: %w", err)
	}
	return nil
}

// RemoveTopic takes a topic out of the taxonomy: new preferences and alerts
// may no longer name it, and stored preferences that name it never match
// again. It returns an error wrapping ErrNotFound for an unknown slug.
func (s *Store) RemoveTopic(ctx context.Context, slug string) error {
	return s.removeSlug(ctx, keyTopics, "topic", slug)
}

// RemoveRegion is RemoveTopic for regions.
func (s *Store) RemoveRegion(ctx context.Context, slug string) error {
	return s.removeSlug(ctx, keyRegions, "region", slug)
}

func (s *Store) removeSlug(ctx context.Context, key, kind, slug string) error {
	n, err := s.rdb.SRem(ctx, key, slug).Result()
	if err := s.taxonomyChanged(ctx, err); err != nil {
		return fmt.Errorf("remove %s %q: %w", kind, slug, err)
	}
	if n == 0 {
		return fmt.Errorf("remove %s %q: %w", kind, slug, flashwire.ErrNotFound)
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
