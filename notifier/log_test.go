package notifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// validAlert is an alert as an editor would send it.
func validAlert() flashwire.Alert {
	return flashwire.Alert{
		Headline: "Putin, Trump Agree To Joint Efforts Against IS In Syria",
		URL:      "https://news.example.com/a/28848563.html",
		Topics:   []string{"world"},
		Regions:  []string{"international"},
		Language: "en",
		Priority: flashwire.Flash,
	}
}

// eachRedis runs fn against a single redis-server and a 3-master Cluster.
func eachRedis(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("single", func(t *testing.T) {
		_, rdb := redistest.Start(t)
		fn(t, rdb)
	})
	t.Run("cluster", func(t *testing.T) {
		_, rdb := redistest.StartCluster(t)
		fn(t, rdb)
	})
}

func TestLogAppend(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		log := NewLog(rdb)
		a := validAlert()
		a.ID = "ignored"
		ev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: a})
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID == "" || ev.Alert.ID != ev.ID {
			t.Fatalf("published event id %q, alert id %q: want equal and set", ev.ID, ev.Alert.ID)
		}
		got, err := log.Alert(ctx, ev.ID)
		if err != nil || got.Headline != a.Headline || got.ID != ev.ID {
			t.Fatalf("Alert(%s) = %+v, %v", ev.ID, got, err)
		}

		t.Run("update", func(t *testing.T) {
			u := got
			u.Headline = "Corrected headline"
			uev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Updated, Alert: u})
			if err != nil {
				t.Fatal(err)
			}
			if flashwire.CompareEventIDs(uev.ID, ev.ID) <= 0 || uev.Alert.ID != ev.ID {
				t.Fatalf("update event %s for alert %s after %s", uev.ID, uev.Alert.ID, ev.ID)
			}
			if cur, _ := log.Alert(ctx, ev.ID); cur.Headline != "Corrected headline" {
				t.Fatalf("current headline %q after update", cur.Headline)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			u := got
			u.ID = "1-0"
			if _, err := log.Append(ctx, flashwire.Event{Type: flashwire.Retracted, Alert: u}); !errors.Is(err, flashwire.ErrNotFound) {
				t.Fatalf("retract of unknown alert: %v, want ErrNotFound", err)
			}
			if _, err := log.Alert(ctx, "nonsense"); !errors.Is(err, flashwire.ErrNotFound) {
				t.Fatalf("Alert(nonsense): %v, want ErrNotFound", err)
			}
		})
		t.Run("since", func(t *testing.T) {
			events, recovered, err := log.Since(ctx, "0-0", 100)
			if err != nil || !recovered || len(events) != 2 {
				t.Fatalf("Since(0-0) = %d events, recovered %v, %v; want 2, true", len(events), recovered, err)
			}
			if events[0].Type != flashwire.Published || events[1].Type != flashwire.Updated || events[1].Alert.Headline != "Corrected headline" {
				t.Fatalf("events = %+v", events)
			}
			events, _, _ = log.Since(ctx, events[0].ID, 100)
			if len(events) != 1 || events[0].Type != flashwire.Updated {
				t.Fatalf("Since(first) = %+v, want the update only", events)
			}
		})
	})
}

func TestLogRetention(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		log := NewLog(rdb)
		log.KeepFor, log.KeepCount = 50*time.Millisecond, 5
		var ids []string
		for i := range 8 {
			a := validAlert()
			a.Headline = fmt.Sprintf("alert %d", i)
			ev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: a})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
		// Nothing is old enough yet: all 8 stay although only 5 must.
		if n := rdb.XLen(ctx, keyLog).Val(); n != 8 {
			t.Fatalf("len = %d before the events aged, want 8", n)
		}
		time.Sleep(80 * time.Millisecond)
		a := validAlert()
		last, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: a})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, last.ID)
		// Now 9 exist, all but the newest are old: the oldest 4 go, 5 stay.
		if n := rdb.XLen(ctx, keyLog).Val(); n != 5 {
			t.Fatalf("len = %d after trimming, want 5", n)
		}
		events, recovered, err := log.Since(ctx, ids[0], 100)
		if err != nil || recovered {
			t.Fatalf("Since(trimmed id): recovered %v, %v; want false", recovered, err)
		}
		if len(events) != 5 {
			t.Fatalf("Since(trimmed id) = %d events, want the 5 kept", len(events))
		}
		events, recovered, err = log.Since(ctx, ids[3], 100)
		if err != nil || !recovered || len(events) != 5 {
			t.Fatalf("Since(last trimmed) = %d, recovered %v, %v; want 5, true", len(events), recovered, err)
		}
	})
}

func TestLogTail(t *testing.T) {
	_, rdb := redistest.Start(t)
	log := NewLog(rdb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start, err := log.LastID(ctx)
	if err != nil || start != "0-0" {
		t.Fatalf("LastID of empty log = %q, %v", start, err)
	}
	got := make(chan flashwire.Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- log.Tail(ctx, start, func(evs []flashwire.Event) {
			for _, ev := range evs {
				got <- ev
			}
		})
	}()
	for i := range 3 {
		a := validAlert()
		a.Headline = fmt.Sprintf("tail %d", i)
		if _, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: a}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		select {
		case ev := <-got:
			if want := fmt.Sprintf("tail %d", i); ev.Alert.Headline != want {
				t.Fatalf("event %d = %q, want %q", i, ev.Alert.Headline, want)
			}
		case <-ctx.Done():
			t.Fatal("tail delivered nothing")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tail ended with %v", err)
	}
}

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1-0", "1-0", 0},
		{"1-1", "1-0", 1},
		// Numeric, not lexical: 9 < 10.
		{"9-0", "10-0", -1},
		{"10-0", "9-5", 1},
	}
	for _, tt := range tests {
		if got := flashwire.CompareEventIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("flashwire.CompareEventIDs(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "1", "a-1", "1-b", "-1-0"} {
		if flashwire.ValidEventID(bad) {
			t.Errorf("flashwire.ValidEventID(%q) = true", bad)
		}
	}
}

func TestServiceUpdateRetract(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	svc := NewService(NewLog(rdb), openTaxonomy{})
	a, _, err := svc.Publish(ctx, validAlert(), PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fixed := validAlert()
	fixed.Headline = "Corrected: joint statement on Syria"
	fixed.Regions = []string{"europe"}
	u, err := svc.Update(ctx, a.ID, fixed)
	if err != nil || u.ID != a.ID || !u.PublishedAt.Equal(a.PublishedAt) || u.UpdatedAt.IsZero() || u.Headline != fixed.Headline {
		t.Fatalf("Update = %+v, %v", u, err)
	}
	r, err := svc.Retract(ctx, a.ID)
	if err != nil || !r.Retracted {
		t.Fatalf("Retract = %+v, %v", r, err)
	}
	t.Run("ErrRetracted", func(t *testing.T) {
		if _, err := svc.Retract(ctx, a.ID); !errors.Is(err, ErrRetracted) {
			t.Fatalf("second retract: %v", err)
		}
		if _, err := svc.Update(ctx, a.ID, fixed); !errors.Is(err, ErrRetracted) {
			t.Fatalf("update after retract: %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.Retract(ctx, "5-0"); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("retract unknown: %v", err)
		}
	})
	events, _, _ := svc.log.Since(ctx, "0-0", 10)
	if len(events) != 3 || events[2].Type != flashwire.Retracted || events[2].Alert.ID != a.ID {
		t.Fatalf("log = %+v", events)
	}
	// The update keeps the targeting it replaced; the others keep none.
	if p := events[1].Previous; p == nil || !slices.Equal(p.Regions, []string{"international"}) || !slices.Equal(events[1].Alert.Regions, []string{"europe"}) {
		t.Errorf("update's previous targeting = %+v, want the published one", p)
	}
	if events[0].Previous != nil || events[2].Previous != nil {
		t.Errorf("publication and retraction carry a previous targeting: %+v, %+v", events[0].Previous, events[2].Previous)
	}
}

// openTaxonomy knows every slug.
type openTaxonomy struct{}

func (openTaxonomy) KnownSlugs(context.Context) (map[string]bool, map[string]bool, error) {
	return nil, nil, nil
}
