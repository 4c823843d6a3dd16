package subscribers

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
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

// Store keeps readers' and partners' preferences and the taxonomy in Redis.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store {
	return &Store{rdb: rdb}
}

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
	if err != nil {
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
