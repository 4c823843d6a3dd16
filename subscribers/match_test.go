package subscribers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

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
			aud, err := s.CountAudience(ctx, tt.a, at)
			if err != nil {
				t.Fatal(err)
			}
			n := aud.Readers
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
		aud, err := s.CountAudience(ctx, a, at)
		if err != nil {
			t.Fatal(err)
		}
		n := aud.Readers
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
