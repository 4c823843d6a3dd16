package subscribers

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// backends runs f against a single redis-server and against a three-master
// Cluster, each freshly flushed and seeded with the default taxonomy.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient)) {
	t.Helper()
	t.Run("single", func(t *testing.T) {
		_, rdb := redistest.Start(t)
		f(t, rdb)
	})
	t.Run("cluster", func(t *testing.T) {
		_, rdb := redistest.StartCluster(t)
		f(t, rdb)
	})
}

// newStore flushes rdb and returns a seeded Store on it whose clock reads
// *now.
func newStore(tb testing.TB, rdb redis.UniversalClient, now *time.Time) *Store {
	tb.Helper()
	ctx := context.Background()
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() })
	} else {
		err = rdb.FlushAll(ctx).Err()
	}
	if err != nil {
		tb.Fatal(err)
	}
	s := NewStore(rdb)
	s.Now = func() time.Time { return *now }
	if err := s.Seed(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

func fields(err error) string {
	var bad *flashwire.InvalidError
	if !errors.As(err, &bad) {
		return ""
	}
	var names []string
	for _, f := range bad.Fields {
		names = append(names, f.Field)
	}
	return strings.Join(names, ",")
}

func TestStore(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient) {
		t.Run("readers", func(t *testing.T) { testReaders(t, rdb) })
		t.Run("sweep", func(t *testing.T) { testSweep(t, rdb) })
		t.Run("partners", func(t *testing.T) { testPartners(t, rdb) })
		t.Run("taxonomy", func(t *testing.T) { testTaxonomy(t, rdb) })
		t.Run("matching", func(t *testing.T) { testMatching(t, rdb) })
		t.Run("property", func(t *testing.T) { testMatcherProperty(t, rdb) })
		t.Run("capacity", func(t *testing.T) { testCapacity(t, rdb) })
		t.Run("push", func(t *testing.T) { testPush(t, rdb) })
		t.Run("shards", func(t *testing.T) { testShards(t, rdb) })
		t.Run("migrate", func(t *testing.T) { testMigrate(t, rdb) })
	})
}

func testTaxonomy(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Now()
	s := newStore(t, rdb, &now)
	if err := s.AddSlugs(ctx, []string{"Space", "space"}, []string{"oceania"}); err != nil {
		t.Fatal(err)
	}
	topics, regions, err := s.Taxonomy(ctx)
	if err != nil || !slices.Contains(topics, "space") || !slices.Contains(regions, "oceania") || len(topics) != len(DefaultTopics)+1 {
		t.Fatalf("Taxonomy = %v %v %v", topics, regions, err)
	}
	if err := s.AddSlugs(ctx, []string{"bad slug"}, []string{"-x"}); fields(err) != "topics,regions" {
		t.Fatalf("bad slugs = %v", err)
	}
	if err := s.AddSlugs(ctx, nil, nil); fields(err) != "topics" {
		t.Fatalf("nothing to add = %v", err)
	}
	if err := s.RemoveTopic(ctx, "space"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTopic(ctx, "space"); !errors.Is(err, flashwire.ErrNotFound) {
		t.Fatalf("second remove = %v", err)
	}
	if err := s.RemoveRegion(ctx, "oceania"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutReader(ctx, NewReaderID(), Preferences{Topics: []string{"space"}}); fields(err) != "topics" {
		t.Fatalf("removed topic accepted: %v", err)
	}
	// Seeding again never brings back what an admin removed.
	if err := s.RemoveTopic(ctx, "climate"); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	if topics, _, _ := s.Taxonomy(ctx); slices.Contains(topics, "climate") {
		t.Fatal("Seed restored a removed topic")
	}
}

// testCapacity checks that every index bitmap grows with the slots, so that
// all keep one length.
func testCapacity(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	s.Shards = 1
	first := NewReaderID()
	if _, _, err := s.PutReader(ctx, first, Preferences{Topics: []string{"health"}}); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, shard(0).key("next"), 65536, 0)
	second := NewReaderID()
	if _, _, err := s.PutReader(ctx, second, Preferences{Topics: []string{"science"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range rdb.SMembers(ctx, shard(0).key("indexes")).Val() {
		if n := rdb.StrLen(ctx, key).Val(); n != 2*65536/8 {
			t.Errorf("%s is %d bytes, want %d", key, n, 2*65536/8)
		}
	}
	ids, err := s.MatchReaders(ctx, flashwire.Attrs{Topics: []string{"health", "science"}}, now)
	sort.Strings(ids)
	want := []string{first, second}
	sort.Strings(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("MatchReaders = %v, %v; want both readers", ids, err)
	}
}
