package subscribers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
	})
}

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
		if ttl := rdb.PTTL(ctx, readerKey(id)).Val(); ttl < ReaderTTL-time.Minute {
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
			if n := rdb.BitCount(ctx, readersPrefix+key, nil).Val(); n != 0 {
				t.Errorf("%s still counts %d", key, n)
			}
		}
		if n := rdb.HLen(ctx, readersPrefix+"quiet-specs").Val(); n != 0 {
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
		if n := rdb.BitCount(ctx, readersPrefix+"topic:climate", nil).Val(); n != 0 {
			t.Fatalf("topic:climate still counts %d", n)
		}
		// The freed slot is used again.
		free := rdb.SMembers(ctx, readersPrefix+"free").Val()
		if len(free) != 1 {
			t.Fatalf("free slots %v", free)
		}
		fresh := NewReaderID()
		if _, _, err := s.PutReader(ctx, fresh, Preferences{}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := strings.Cut(rdb.Get(ctx, readerKey(fresh)).Val(), "|"); got != free[0] {
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
	rdb.Del(ctx, readerKey(old))
	n, err := s.Sweep(ctx, start.Add(ReaderTTL+time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 reader removed", n, err)
	}
	if got := rdb.BitCount(ctx, readersPrefix+"topic:sport", nil).Val(); got != 1 {
		t.Fatalf("topic:sport counts %d, want only the reader seen lately", got)
	}
	if rdb.Exists(ctx, readersPrefix+"quiet:"+quietSpec(*quiet)).Val() != 0 || rdb.HLen(ctx, readersPrefix+"quiet-specs").Val() != 0 {
		t.Fatal("the swept reader's quiet hours remain indexed")
	}
	if _, err := s.Reader(ctx, kept); err != nil {
		t.Fatalf("kept reader: %v", err)
	}
	// The pause that is over is forgotten, bitmap and all.
	if rdb.ZCard(ctx, readersPrefix+"paused").Val() != 0 || rdb.BitCount(ctx, keyPausing, nil).Val() != 0 {
		t.Fatal("a pause that is over remains indexed")
	}
	if n, _, _ := s.CountAudience(ctx, flashwire.Attrs{Topics: []string{"sport"}}, now); n != 1 {
		t.Fatalf("audience after the sweep = %d, want the kept reader", n)
	}
	if n, _ := s.Sweep(ctx, start.Add(ReaderTTL+time.Hour)); n != 0 {
		t.Fatalf("second sweep removed %d", n)
	}
}

func testPartners(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	other := NewStore(rdb) // a second instance with its own cache
	p, err := s.CreatePartner(ctx, Partner{Name: " Daily Planet ", URL: "https://planet.example/hook", Topics: []string{"world"}, MinPriority: "urgent"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		if p.ID == "" || p.Name != "Daily Planet" || p.State != PartnerActive || !slices.Equal(p.Events, flashwire.EventTypes) || !p.CreatedAt.Equal(now) {
			t.Fatalf("created %+v", p)
		}
		got, err := other.Partner(ctx, p.ID)
		if err != nil || got.URL != p.URL {
			t.Fatalf("Partner = %+v, %v", got, err)
		}
	})
	t.Run("cache invalidated", func(t *testing.T) {
		if list, _ := other.Partners(ctx); len(list) != 1 {
			t.Fatalf("other instance lists %d partners", len(list))
		}
		if err := s.SetPartnerState(ctx, p.ID, PartnerDisabled, "410 Gone for a day"); err != nil {
			t.Fatal(err)
		}
		got, _ := other.Partner(ctx, p.ID)
		if got.State != PartnerDisabled || got.DisabledReason != "410 Gone for a day" {
			t.Fatalf("other instance still sees %+v", got)
		}
		alert := flashwire.Attrs{Topics: []string{"world"}, Priority: "flash"}
		if m, _ := other.MatchPartners(ctx, flashwire.Published, alert, now); len(m) != 0 {
			t.Fatalf("a disabled partner matched: %+v", m)
		}
		if err := s.SetPartnerState(ctx, p.ID, PartnerActive, ""); err != nil {
			t.Fatal(err)
		}
		if m, _ := other.MatchPartners(ctx, flashwire.Published, alert, now); len(m) != 1 {
			t.Fatalf("re-enabled partner did not match: %+v", m)
		}
	})
	t.Run("update", func(t *testing.T) {
		now = now.Add(time.Minute)
		got, err := s.UpdatePartner(ctx, p.ID, func(p *Partner) { p.Events = []flashwire.EventType{flashwire.Retracted} })
		if err != nil || !slices.Equal(got.Events, []flashwire.EventType{flashwire.Retracted}) || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("update = %+v, %v", got, err)
		}
		if _, err := s.UpdatePartner(ctx, p.ID, func(p *Partner) { p.URL = "ftp://x" }); fields(err) != "url" {
			t.Fatalf("bad update = %v", err)
		}
		if _, err := s.UpdatePartner(ctx, "pt_nope", func(*Partner) {}); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("update unknown = %v", err)
		}
		if err := s.SetPartnerState(ctx, p.ID, "sleeping", ""); fields(err) != "state" {
			t.Fatalf("bad state = %v", err)
		}
		// A long reason is cut, not refused: disabling must not fail.
		if err := s.SetPartnerState(ctx, p.ID, PartnerDisabled, strings.Repeat("timeout; ", 200)); err != nil {
			t.Fatalf("disable with a long reason = %v", err)
		}
		// A topic removed from the taxonomy does not block changing the
		// partner, but cannot be added anew.
		if err := s.RemoveTopic(ctx, "world"); err != nil {
			t.Fatal(err)
		}
		defer s.AddSlugs(ctx, []string{"world"}, nil)
		if err := s.SetPartnerState(ctx, p.ID, PartnerActive, ""); err != nil {
			t.Fatalf("enable with a removed topic = %v", err)
		}
		if _, err := s.CreatePartner(ctx, Partner{Name: "b", URL: "https://b.example/", Topics: []string{"world"}}); fields(err) != "topics" {
			t.Fatalf("new partner with a removed topic = %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name string
			p    Partner
			want string
		}{
			{"no name", Partner{URL: "https://a.example/"}, "name"},
			{"no url", Partner{Name: "a"}, "url"},
			// The sender decides later whether plain http may be dialled.
			{"ftp url", Partner{Name: "a", URL: "ftp://a.example/"}, "url"},
			{"no host", Partner{Name: "a", URL: "https:///x"}, "url"},
			{"credentials", Partner{Name: "a", URL: "https://u:p@a.example/"}, "url"},
			{"unknown event", Partner{Name: "a", URL: "https://a.example/", Events: []flashwire.EventType{"alert.deleted"}}, "events"},
			{"unknown topic", Partner{Name: "a", URL: "https://a.example/", Topics: []string{"gossip"}}, "topics"},
			{"all", Partner{Name: strings.Repeat("n", MaxPartnerName+1), URL: "x", Regions: []string{"mars"}, Languages: []string{"-"}, MinPriority: "low", Contact: strings.Repeat("c", MaxContact+1)},
				"name,url,regions,languages,min_priority,contact"},
		}
		for _, tt := range tests {
			if _, err := s.CreatePartner(ctx, tt.p); fields(err) != tt.want {
				t.Errorf("%s: fields %q (%v), want %q", tt.name, fields(err), err, tt.want)
			}
		}
		if list, _ := s.Partners(ctx); len(list) != 1 {
			t.Fatalf("refused partners were stored: %d", len(list))
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.DeletePartner(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Partner(ctx, p.ID); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("other instance still has the partner: %v", err)
		}
		if err := s.DeletePartner(ctx, p.ID); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("second delete = %v", err)
		}
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

// testMatching checks the matching rules through the Redis indexes, one
// reader at a time.
func testMatching(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	for _, tt := range matchCases() {
		t.Run(tt.name, func(t *testing.T) {
			at := mustTime(t, tt.now)
			id := NewReaderID()
			r, _, err := s.PutReader(ctx, id, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			defer s.DeleteReader(ctx, id)
			if got := r.Matches(tt.a, at); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
			n, _, err := s.CountAudience(ctx, tt.a, at)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := s.MatchReaders(ctx, tt.a, at)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if tt.want {
				want = 1
			}
			if n != want || int64(len(ids)) != want || (tt.want && ids[0] != id) {
				t.Fatalf("CountAudience = %d, MatchReaders = %v; want %d", n, ids, want)
			}
		})
	}
}

// testMatcherProperty checks the Redis-indexed matcher against the
// matching rule applied to every reader in turn, over random readers,
// alerts and times, including readers replaced and deleted on the way.
func testMatcherProperty(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	base := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // the night European clocks go forward
	now := base
	s := newStore(t, rdb, &now)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)

	pick := func(from []string, max int) []string {
		var out []string
		for range rng.IntN(max + 1) {
			out = append(out, from[rng.IntN(len(from))])
		}
		return out
	}
	languages := []string{"en", "en-GB", "fr", "de", "pt-BR", "pt"}
	priorities := []flashwire.Priority{"", "normal", "urgent", "flash"}
	zones := []string{"Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"}
	clock := func() string { return fmt.Sprintf("%02d:%02d", rng.IntN(24), 30*rng.IntN(2)) }
	randomTime := func() time.Time {
		return base.Add(time.Duration(rng.Int64N(int64(72*time.Hour))) - 24*time.Hour).Truncate(time.Millisecond)
	}
	randomPrefs := func() Preferences {
		p := Preferences{
			Topics:      pick(DefaultTopics, 3),
			Regions:     pick(DefaultRegions, 2),
			Languages:   pick(languages, 2),
			MinPriority: priorities[rng.IntN(len(priorities))],
		}
		if rng.IntN(3) == 0 {
			p.QuietHours = &QuietHours{Start: clock(), End: clock(), TZ: zones[rng.IntN(len(zones))], AllowFlash: rng.IntN(2) == 0}
		}
		if rng.IntN(4) == 0 {
			until := randomTime()
			p.PausedUntil = &until
		}
		return p
	}

	readers := map[string]Preferences{}
	for range 300 {
		id := NewReaderID()
		r, _, err := s.PutReader(ctx, id, randomPrefs())
		if err != nil {
			t.Fatal(err)
		}
		readers[id] = r.Preferences
	}
	ids := make([]string, 0, len(readers))
	for id := range readers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		switch i % 5 {
		case 0: // replaced
			r, _, err := s.PutReader(ctx, id, randomPrefs())
			if err != nil {
				t.Fatal(err)
			}
			readers[id] = r.Preferences
		case 1: // deleted
			if err := s.DeleteReader(ctx, id); err != nil {
				t.Fatal(err)
			}
			delete(readers, id)
		}
	}

	for i := range 150 {
		a := flashwire.Attrs{
			Topics:   pick(DefaultTopics, 2),
			Regions:  pick(DefaultRegions, 2),
			Language: languages[rng.IntN(len(languages))],
			Priority: priorities[rng.IntN(len(priorities))],
		}
		if i%10 == 0 {
			a.Language = ""
		}
		at := randomTime().Add(time.Duration(rng.IntN(1000)) * time.Microsecond)
		var want []string
		for id, p := range readers {
			if p.Matches(a, at) {
				want = append(want, id)
			}
		}
		sort.Strings(want)
		n, _, err := s.CountAudience(ctx, a, at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.MatchReaders(ctx, a, at)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if n != int64(len(want)) || !slices.Equal(got, want) {
			t.Fatalf("alert %+v at %v: count %d, listed %d, brute force %d (seed %d)\nlisted %v\nwant   %v", a, at, n, len(got), len(want), seed, got, want)
		}
	}
}

// testCapacity checks that every index bitmap grows with the slots, so that
// all keep one length.
func testCapacity(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	first := NewReaderID()
	if _, _, err := s.PutReader(ctx, first, Preferences{Topics: []string{"health"}}); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, readersPrefix+"next", 65536, 0)
	second := NewReaderID()
	if _, _, err := s.PutReader(ctx, second, Preferences{Topics: []string{"science"}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range rdb.SMembers(ctx, readersPrefix+"indexes").Val() {
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
