package subscribers

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Store keeps readers' and partners' preferences and the taxonomy in Redis.
type Store struct {
	rdb redis.UniversalClient
	// Now is the clock for created, updated and last-seen times; tests
	// replace it before first use.
	Now func() time.Time
	// Shards is how many shards the reader index is spread over (see
	// shards.go); zero means DefaultShards. It is fixed per installation
	// (InitShards checks it) and set before first use.
	Shards int
	// partners is this instance's copy of the partner list.
	partners partnerCache
	// slugs is this instance's copy of the taxonomy (taxonomy_cache.go).
	slugs slugCache
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store {
	return &Store{rdb: rdb, Now: time.Now}
}

// checked is what the store checks against the taxonomy: preferences and
// partners.
type checked interface {
	Normalize()
	Validate(bad *flashwire.InvalidError, topics, regions map[string]bool)
}

// check normalizes v and returns a *flashwire.InvalidError naming every
// field at fault, or nil.
func (s *Store) check(ctx context.Context, v checked) error {
	v.Normalize()
	topics, regions, err := s.KnownSlugs(ctx)
	if err != nil {
		return err
	}
	var bad flashwire.InvalidError
	v.Validate(&bad, topics, regions)
	return bad.Err()
}
