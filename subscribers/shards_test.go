package subscribers

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// testShards checks that readers spread over the shards and that a
// changed shard count stops start-up.
func testShards(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	if err := s.InitShards(ctx); err != nil {
		t.Fatal(err)
	}
	used := map[shard]bool{}
	for range 200 {
		id := NewReaderID()
		if _, _, err := s.PutReader(ctx, id, Preferences{Topics: []string{"world"}}); err != nil {
			t.Fatal(err)
		}
		used[s.shard(id)] = true
	}
	if len(used) != DefaultShards {
		t.Fatalf("200 readers used %d of %d shards", len(used), DefaultShards)
	}
	aud, err := s.CountAudience(ctx, flashwire.Attrs{Topics: []string{"world"}}, now)
	if err != nil || aud.Readers != 200 {
		t.Fatalf("CountAudience = %+v, %v", aud, err)
	}
	if ids, err := s.MatchReaders(ctx, flashwire.Attrs{Topics: []string{"world"}}, now); err != nil || len(ids) != 200 {
		t.Fatalf("MatchReaders = %d, %v", len(ids), err)
	}
	other := NewStore(rdb)
	other.Shards = 8
	var se *ShardsError
	if err := other.InitShards(ctx); !errors.As(err, &se) || se.Stored != DefaultShards || se.Configured != 8 {
		t.Fatalf("InitShards with another count = %v", err)
	}
}

// testMigrate stores readers in the unsharded layout of earlier versions
// and checks that start-up moves them into their shards, keeping what
// matters, and removes the old keys.
func testMigrate(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	created, seen := now.Add(-48*time.Hour), now.Add(-time.Hour)
	changed := NewReaderID()
	readers := map[string]string{
		NewReaderID(): `{"t":["world"],"l":["en"]}`,
		changed:       `{"t":["sport"],"q":{"start":"22:00","end":"07:00","tz":"Europe/London","allow_flash":false}}`,
		NewReaderID(): `{}`,
	}
	slot := 0
	for id, prefs := range readers {
		rec := strconv.Itoa(slot) + "|" + strconv.FormatInt(created.UnixMilli(), 10) + "|" + strconv.FormatInt(seen.UnixMilli(), 10) + "|" + prefs
		rdb.Set(ctx, legacyPrefix+"reader:"+id, rec, time.Hour)
		rdb.HSet(ctx, legacyPrefix+"ids", slot, id)
		rdb.SetBit(ctx, legacyPrefix+"any-region", int64(slot), 1)
		rdb.SAdd(ctx, legacyPrefix+"indexes", legacyPrefix+"any-region")
		slot++
	}
	// A reader already in its shard is newer than its old copy.
	if _, _, err := s.PutReader(ctx, changed, Preferences{Topics: []string{"science"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.InitShards(ctx); err != nil {
		t.Fatal(err)
	}
	for id, prefs := range readers {
		r, err := s.Reader(ctx, id)
		if err != nil {
			t.Fatalf("reader %s (%s) not moved: %v", id, prefs, err)
		}
		if id == changed {
			if len(r.Topics) != 1 || r.Topics[0] != "science" {
				t.Fatalf("migration overwrote a newer reader: %+v", r)
			}
			continue
		}
		if !r.CreatedAt.Equal(created) || !r.LastSeen.Equal(seen) {
			t.Fatalf("reader %s created %v seen %v; want %v, %v", id, r.CreatedAt, r.LastSeen, created, seen)
		}
	}
	aud, _ := s.CountAudience(ctx, flashwire.Attrs{Topics: []string{"world"}, Language: "en"}, now)
	if aud.Readers != 2 { // the world reader and the one with no topic
		t.Fatalf("audience after migration = %d, want 2", aud.Readers)
	}
	for _, k := range []string{"ids", "indexes", "any-region"} {
		if rdb.Exists(ctx, legacyPrefix+k).Val() != 0 {
			t.Fatalf("old key %s remains", k)
		}
	}
	// Starting again finds nothing to move.
	if n, err := s.migrateUnsharded(ctx); err != nil || n != 0 {
		t.Fatalf("second migration = %d, %v", n, err)
	}
}
