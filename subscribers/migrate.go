package subscribers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// legacyPrefix starts the keys of the unsharded reader index of earlier
// versions, which kept every reader under the one hash tag {readers}.
const legacyPrefix = "flashwire:v1:{readers}:"

// legacyKeys are the bookkeeping keys of the unsharded index, deleted once
// its readers are moved; its index bitmaps are listed in "indexes".
var legacyKeys = []string{"ids", "next", "cap", "free", "seen", "paused", "pausing", "quiet-specs", "tmp:a", "tmp:b", "tmp:x", "indexes"}

// migrateUnsharded moves the readers of the unsharded layout, if any, into
// their shards, keeping their ids, preferences, creation and last-seen
// times, then deletes the old keys. It is safe to run on several instances
// at once and to stop half-way: a reader is copied only when its shard
// does not hold it yet (a reader changed since is never overwritten), and
// leaves the old index only once copied. It returns how many it moved.
func (s *Store) migrateUnsharded(ctx context.Context) (int, error) {
	ids := legacyPrefix + "ids"
	moved := 0
	var cursor uint64
	for {
		fields, next, err := s.rdb.HScan(ctx, ids, cursor, "", 500).Result()
		if err != nil {
			return moved, fmt.Errorf("migrate readers: %w", err)
		}
		n, err := s.moveLegacy(ctx, fields)
		moved += n
		if err != nil {
			return moved, err
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if moved == 0 {
		if n, err := s.rdb.Exists(ctx, ids, legacyPrefix+"indexes").Result(); err != nil || n == 0 {
			return 0, err
		}
	}
	indexes, err := s.rdb.SMembers(ctx, legacyPrefix+"indexes").Result()
	if err != nil {
		return moved, fmt.Errorf("migrate readers: %w", err)
	}
	for _, k := range legacyKeys {
		indexes = append(indexes, legacyPrefix+k)
	}
	// One key at a time: on a Cluster they share a slot, but a single DEL
	// of thousands of bitmaps would hold Redis for long.
	for _, k := range indexes {
		if err := s.rdb.Del(ctx, k).Err(); err != nil {
			return moved, fmt.Errorf("migrate readers: delete %s: %w", k, err)
		}
	}
	return moved, nil
}

// moveLegacy copies the readers of one HSCAN page (slot, id pairs) of the
// unsharded index into their shards and deletes their old records.
func (s *Store) moveLegacy(ctx context.Context, fields []string) (int, error) {
	var ids []string
	for i := 1; i < len(fields); i += 2 {
		ids = append(ids, fields[i])
	}
	if len(ids) == 0 {
		return 0, nil
	}
	recs := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			recs[i] = p.Get(ctx, legacyPrefix+"reader:"+id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("migrate readers: %w", err)
	}
	now := s.Now().UTC()
	moved := 0
	for i, id := range ids {
		v, err := recs[i].Result()
		if err == nil {
			ok, err := s.copyLegacy(ctx, id, v, now)
			if err != nil {
				return moved, err
			}
			if ok {
				moved++
			}
		}
		// A record already expired is dropped with the old index.
		if err := s.rdb.Del(ctx, legacyPrefix+"reader:"+id).Err(); err != nil {
			return moved, fmt.Errorf("migrate readers: %w", err)
		}
		if err := s.rdb.HDel(ctx, legacyPrefix+"ids", fields[2*i]).Err(); err != nil {
			return moved, fmt.Errorf("migrate readers: %w", err)
		}
	}
	return moved, nil
}

// copyLegacy stores one old record ("slot|created|seen|preferences JSON")
// in its shard unless the shard holds the reader already.
func (s *Store) copyLegacy(ctx context.Context, id, rec string, now time.Time) (bool, error) {
	f := strings.SplitN(rec, "|", 4)
	if len(f) != 4 {
		return false, nil
	}
	p, err := decodePreferences(f[3])
	if err != nil {
		return false, nil
	}
	seen, _ := strconv.ParseInt(f[2], 10, 64)
	ttl := ReaderTTL - now.Sub(time.UnixMilli(seen))
	if ttl <= 0 {
		return false, nil
	}
	paused := ""
	if p.PausedUntil != nil {
		paused = strconv.FormatInt(p.PausedUntil.UnixMilli(), 10)
	}
	sh := s.shard(id)
	index, spec := readerIndexKeys(sh, p)
	keys := append([]string{s.readerKey(id)}, index...)
	res, err := saveScript.Run(ctx, s.rdb, keys, id, f[3], seen, ttl.Milliseconds(), paused, spec, f[1], "nx").Slice()
	if err != nil {
		return false, fmt.Errorf("migrate reader %s: %w", id, err)
	}
	return len(res) == 2 && res[0] == int64(1), nil
}
