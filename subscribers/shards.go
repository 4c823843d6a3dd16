package subscribers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// DefaultShards is how many shards the reader index is spread over unless
// an installation chooses otherwise.
const DefaultShards = 16

// MaxShards bounds the shard count: every count and match runs one script
// per shard.
const MaxShards = 1024

// shard is one part of the reader index. Each shard has its own hash tag,
// {readers:N}, so that on a Redis Cluster the shards spread over the
// masters while every script still runs within one shard's slot: a
// reader's record, its slot and its bits all live in the shard its id
// hashes to.
type shard int

// key returns the name of a key of the shard.
func (sh shard) key(name string) string {
	return "flashwire:v1:{readers:" + strconv.Itoa(int(sh)) + "}:" + name
}

// keyShards holds the shard count an installation was started with: it
// may not change, since a reader's shard follows from it.
const keyShards = "flashwire:v1:{readers}:shards"

// shard returns the shard of reader id: a stable hash (FNV-1a) of the id.
func (s *Store) shard(id string) shard {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return shard(h.Sum32() % uint32(s.shardCount()))
}

func (s *Store) shardCount() int {
	if s.Shards <= 0 {
		return DefaultShards
	}
	return s.Shards
}

// shards lists every shard.
func (s *Store) shards() []shard {
	out := make([]shard, s.shardCount())
	for i := range out {
		out[i] = shard(i)
	}
	return out
}

// ShardCount returns how many shards the reader index has.
func (s *Store) ShardCount() int { return s.shardCount() }

// ShardsError says the configured shard count is not the one the
// installation's reader index was built with.
type ShardsError struct {
	Stored, Configured int
}

func (e *ShardsError) Error() string {
	return fmt.Sprintf("is %d, but this installation's reader index has %d shards; the count is fixed once readers are stored", e.Configured, e.Stored)
}

// InitShards records the shard count on first start and checks it on every
// later one, returning a *ShardsError when it differs. Then it moves any
// readers kept in the unsharded layout of earlier versions into their
// shards (see migrate.go).
func (s *Store) InitShards(ctx context.Context) error {
	n := s.shardCount()
	if n > MaxShards {
		return fmt.Errorf("reader shards: %d is more than %d", n, MaxShards)
	}
	if err := s.rdb.SetNX(ctx, keyShards, n, 0).Err(); err != nil {
		return fmt.Errorf("record reader shard count: %w", err)
	}
	stored, err := s.rdb.Get(ctx, keyShards).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("load reader shard count: %w", err)
	}
	if stored != n {
		return &ShardsError{Stored: stored, Configured: n}
	}
	if _, err := s.migrateUnsharded(ctx); err != nil {
		return err
	}
	return nil
}
