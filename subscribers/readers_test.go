package subscribers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

func testReaders(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	id := NewReaderID()
	prefs := Preferences{
		Topics:      []string{"World", "sport", "world"},
		Regions:     []string{"uk"},
		Languages:   []string{"en-GB"},
		MinPriority: "urgent",
		QuietHours:  &QuietHours{Start: "22:00", End: "07:00", TZ: "Europe/London", AllowFlash: true},
	}

	t.Run("OK", func(t *testing.T) {
		r, created, err := s.PutReader(ctx, id, prefs)
		if err != nil || !created {
			t.Fatalf("PutReader = %v, %v", created, err)
		}
		if !slices.Equal(r.Topics, []string{"world", "sport"}) || !r.CreatedAt.Equal(now) {
			t.Fatalf("stored %+v", r)
		}
		got, err := s.Reader(ctx, strings.ToUpper(id))
		if err != nil || got.ID != id || got.QuietHours.TZ != "Europe/London" || !got.LastSeen.Equal(now) {
			t.Fatalf("Reader = %+v, %v", got, err)
		}
		if ttl := rdb.PTTL(ctx, s.readerKey(id)).Val(); ttl < ReaderTTL-time.Minute {
			t.Fatalf("record TTL %v, want about %v", ttl, ReaderTTL)
		}
	})
	t.Run("replace", func(t *testing.T) {
		created := now
		now = now.Add(time.Hour)
		r, isNew, err := s.PutReader(ctx, id, Preferences{Topics: []string{"climate"}})
		if err != nil || isNew || !r.CreatedAt.Equal(created) || !r.LastSeen.Equal(now) {
			t.Fatalf("replace = %+v %v %v", r, isNew, err)
		}
		// The old topic, region and quiet hours no longer hold the reader.
		for _, key := range []string{"topic:world", "region:uk", "prio:urgent"} {
			if n := rdb.BitCount(ctx, s.shard(id).key(key), nil).Val(); n != 0 {
				t.Errorf("%s still counts %d", key, n)
			}
		}
		if n := rdb.HLen(ctx, s.shard(id).key("quiet-specs")).Val(); n != 0 {
			t.Errorf("quiet-specs keeps %d specs no reader uses", n)
		}
	})
	t.Run("touch", func(t *testing.T) {
		now = now.Add(24 * time.Hour)
		if err := s.TouchReader(ctx, id); err != nil {
			t.Fatal(err)
		}
		r, _ := s.Reader(ctx, id)
		if !r.LastSeen.Equal(now) {
			t.Fatalf("LastSeen = %v, want %v", r.LastSeen, now)
		}
	})
	t.Run("UUID", func(t *testing.T) {
		uuid := "3F2504E0-4F89-41D3-9A0C-0305E82C3301"
		r, _, err := s.PutReader(ctx, uuid, Preferences{})
		if err != nil || r.ID != "3f2504e04f8941d39a0c0305e82c3301" {
			t.Fatalf("PutReader(UUID) = %q, %v", r.ID, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		other := NewReaderID()
		if _, err := s.Reader(ctx, other); !errors.Is(err, flashwire.ErrNotFound) {
			t.Errorf("Reader = %v", err)
		}
		if err := s.TouchReader(ctx, other); !errors.Is(err, flashwire.ErrNotFound) {
			t.Errorf("TouchReader = %v", err)
		}
		if err := s.DeleteReader(ctx, other); !errors.Is(err, flashwire.ErrNotFound) {
			t.Errorf("DeleteReader = %v", err)
		}
	})
	t.Run("bad id", func(t *testing.T) {
		for _, bad := range []string{"", "abc", strings.Repeat("g", 32), strings.Repeat("0", 32), "3f2504e0-4f89-41d3-9a0c-0305e82c330"} {
			if _, _, err := s.PutReader(ctx, bad, Preferences{}); fields(err) != "id" {
				t.Errorf("PutReader(%q) = %v, want a problem with id", bad, err)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		tests := []struct {
			name string
			p    Preferences
			want string
		}{
			// Slugs must be known to the taxonomy.
			{"unknown topic", Preferences{Topics: []string{"gossip"}}, "topics"},
			{"bad slug", Preferences{Regions: []string{"new york"}}, "regions"},
			{"too many topics", Preferences{Topics: slices.Repeat([]string{"a"}, MaxSlugs+1)}, ""},
			{"bad language", Preferences{Languages: []string{"english!"}}, "languages"},
			{"bad priority", Preferences{MinPriority: "loud"}, "min_priority"},
			{"bad start", Preferences{QuietHours: &QuietHours{Start: "25:00", End: "07:00", TZ: "UTC"}}, "quiet_hours.start"},
			{"bad end", Preferences{QuietHours: &QuietHours{Start: "22:00", End: "7", TZ: "UTC"}}, "quiet_hours.end"},
			{"unknown zone", Preferences{QuietHours: &QuietHours{Start: "22:00", End: "07:00", TZ: "Mars/Olympus"}}, "quiet_hours.tz"},
			{"no zone", Preferences{QuietHours: &QuietHours{Start: "22:00", End: "07:00"}}, "quiet_hours.tz"},
			{"local zone", Preferences{QuietHours: &QuietHours{Start: "22:00", End: "07:00", TZ: "Local"}}, "quiet_hours.tz"},
			// Every field at fault is named, in order.
			{"all", Preferences{Topics: []string{"x"}, Regions: []string{"y"}, Languages: []string{"1"}, MinPriority: "x", QuietHours: &QuietHours{TZ: "x"}},
				"topics,regions,languages,min_priority,quiet_hours.start,quiet_hours.end,quiet_hours.tz"},
			// A pause in the past is allowed: it is simply over.
			{"past pause", Preferences{PausedUntil: &past}, "-"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := s.PutReader(ctx, NewReaderID(), tt.p)
				switch {
				case tt.want == "-":
					if err != nil {
						t.Fatalf("err = %v, want none", err)
					}
				case tt.want == "":
					if fields(err) == "" {
						t.Fatalf("err = %v, want a field problem", err)
					}
				case fields(err) != tt.want:
					t.Fatalf("fields = %q (%v), want %q", fields(err), err, tt.want)
				}
			})
		}
		if _, _, err := s.PutReader(ctx, id, Preferences{Topics: []string{"gossip"}}); err == nil {
			t.Fatal("invalid replace accepted")
		}
		if r, _ := s.Reader(ctx, id); !slices.Equal(r.Topics, []string{"climate"}) {
			t.Fatalf("a refused replace changed the reader: %+v", r)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.DeleteReader(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reader(ctx, id); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("Reader after delete = %v", err)
		}
		if n := rdb.BitCount(ctx, s.shard(id).key("topic:climate"), nil).Val(); n != 0 {
			t.Fatalf("topic:climate still counts %d", n)
		}
		// The freed slot is used again by the next reader of its shard.
		free := rdb.SMembers(ctx, s.shard(id).key("free")).Val()
		if len(free) != 1 {
			t.Fatalf("free slots %v", free)
		}
		fresh := NewReaderID()
		for s.shard(fresh) != s.shard(id) {
			fresh = NewReaderID()
		}
		if _, _, err := s.PutReader(ctx, fresh, Preferences{}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := strings.Cut(rdb.Get(ctx, s.readerKey(fresh)).Val(), "|"); got != free[0] {
			t.Fatalf("new reader in slot %s, want freed slot %s", got, free[0])
		}
	})
}

func testSweep(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	s := newStore(t, rdb, &now)
	old, kept := NewReaderID(), NewReaderID()
	quiet := &QuietHours{Start: "01:00", End: "02:00", TZ: "Asia/Tokyo"}
	if _, _, err := s.PutReader(ctx, old, Preferences{Topics: []string{"sport"}, QuietHours: quiet}); err != nil {
		t.Fatal(err)
	}
	pauseEnds := start.Add(time.Hour)
	if _, _, err := s.PutReader(ctx, kept, Preferences{Topics: []string{"sport"}, PausedUntil: &pauseEnds}); err != nil {
		t.Fatal(err)
	}
	now = start.Add(100 * 24 * time.Hour)
	if err := s.TouchReader(ctx, kept); err != nil {
		t.Fatal(err)
	}
	// The old reader's record expired in Redis; simulate that without
	// waiting 180 days.
	rdb.Del(ctx, s.readerKey(old))
	n, err := s.Sweep(ctx, start.Add(ReaderTTL+time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 reader removed", n, err)
	}
	sport := rdb.BitCount(ctx, s.shard(old).key("topic:sport"), nil).Val()
	if s.shard(old) != s.shard(kept) {
		sport += rdb.BitCount(ctx, s.shard(kept).key("topic:sport"), nil).Val()
	}
	if got := sport; got != 1 {
		t.Fatalf("topic:sport counts %d, want only the reader seen lately", got)
	}
	if rdb.Exists(ctx, s.shard(old).key("quiet:"+quietSpec(*quiet))).Val() != 0 || rdb.HLen(ctx, s.shard(old).key("quiet-specs")).Val() != 0 {
		t.Fatal("the swept reader's quiet hours remain indexed")
	}
	if _, err := s.Reader(ctx, kept); err != nil {
		t.Fatalf("kept reader: %v", err)
	}
	// The pause that is over is forgotten, bitmap and all.
	if rdb.ZCard(ctx, s.shard(kept).key("paused")).Val() != 0 || rdb.BitCount(ctx, s.shard(kept).key("pausing"), nil).Val() != 0 {
		t.Fatal("a pause that is over remains indexed")
	}
	if aud, _ := s.CountAudience(ctx, flashwire.Attrs{Topics: []string{"sport"}}, now); aud.Readers != 1 {
		t.Fatalf("audience after the sweep = %d, want the kept reader", aud.Readers)
	}
	if n, _ := s.Sweep(ctx, start.Add(ReaderTTL+time.Hour)); n != 0 {
		t.Fatalf("second sweep removed %d", n)
	}
}
