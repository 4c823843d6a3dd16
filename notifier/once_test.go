package notifier

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// publishedEvents returns the Published events in the log.
func publishedEvents(tb testing.TB, log *Log) []flashwire.Event {
	tb.Helper()
	evs, _, err := log.Since(context.Background(), "0-0", 1000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []flashwire.Event
	for _, ev := range evs {
		if ev.Type == flashwire.Published {
			out = append(out, ev)
		}
	}
	return out
}

func TestPublishOnce(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		clk := newClock()
		svc := NewService(NewLog(rdb), openTaxonomy{})
		svc.Now = clk.Now
		svc.MinGap = time.Hour
		a := validAlert()
		a.Priority = flashwire.Urgent

		first, repeat, err := svc.Publish(ctx, a, PublishOptions{Once: "story-1"})
		if err != nil || repeat || first.ID == "" {
			t.Fatalf("first PublishOnce = %+v, %v, %v", first, repeat, err)
		}
		t.Run("Repeat", func(t *testing.T) {
			// Within the gap and the duplicate window: the once key answers
			// before the guards would refuse.
			clk.Advance(time.Minute)
			again, repeat, err := svc.Publish(ctx, a, PublishOptions{Once: "story-1"})
			if err != nil || !repeat || again.ID != first.ID || again.Headline != a.Headline {
				t.Fatalf("second PublishOnce = %+v, %v, %v; want %s as a repeat", again, repeat, err, first.ID)
			}
			if evs := publishedEvents(t, svc.log); len(evs) != 1 {
				t.Fatalf("%d published events, want 1", len(evs))
			}
		})
		t.Run("RepeatInsideAppend", func(t *testing.T) {
			// A publish that got past the early check while another took the
			// key is still caught by the append script.
			ev, repeat, err := svc.log.AppendOnce(ctx, flashwire.Event{Type: flashwire.Published, Alert: a}, "story-1")
			if err != nil || !repeat || ev.ID != first.ID || ev.Alert.ID != first.ID {
				t.Fatalf("AppendOnce = %+v, %v, %v; want %s as a repeat", ev, repeat, err, first.ID)
			}
		})
		t.Run("OnceAcrossInstances", func(t *testing.T) {
			clk.Advance(2 * time.Hour)
			b := validAlert()
			b.URL = "https://news.example.com/b"
			var wg sync.WaitGroup
			var mu sync.Mutex
			var ids []string
			fresh := 0
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					other := NewService(NewLog(rdb), openTaxonomy{})
					other.Now = clk.Now
					got, repeat, err := other.Publish(ctx, b, PublishOptions{Force: true, Once: "story-2"})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					ids = append(ids, got.ID)
					if !repeat {
						fresh++
					}
				}()
			}
			wg.Wait()
			if fresh != 1 {
				t.Fatalf("%d fresh publishes, want 1 (ids %v)", fresh, ids)
			}
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("ids %v differ", ids)
				}
			}
			if evs := publishedEvents(t, svc.log); len(evs) != 2 {
				t.Fatalf("%d published events, want 2", len(evs))
			}
		})
		t.Run("NoKey", func(t *testing.T) {
			c := validAlert()
			c.URL = "https://news.example.com/c"
			one, _, err := svc.Publish(ctx, c, PublishOptions{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			two, _, err := svc.Publish(ctx, c, PublishOptions{Force: true})
			if err != nil || two.ID == one.ID {
				t.Fatalf("Publish without once key twice = %s then %s, %v; want two alerts", one.ID, two.ID, err)
			}
		})
	})
}

func TestScheduleCrash(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		clk := newClock()
		newInstance := func() *Service {
			s := NewService(NewLog(rdb), openTaxonomy{})
			s.Now = clk.Now
			s.ScheduleLease = 30 * time.Second
			return s
		}
		svc := newInstance()
		schedule := func(t *testing.T, url string) Scheduled {
			t.Helper()
			a := validAlert()
			a.URL = url
			sc, err := svc.Schedule(ctx, a, clk.Now().Add(time.Minute), "night desk")
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Minute)
			return sc
		}
		t.Run("CrashAfterClaim", func(t *testing.T) {
			before := len(publishedEvents(t, svc.log))
			sc := schedule(t, "https://news.example.com/claim")
			// The first instance claims and dies before publishing.
			claimed, err := newInstance().claimDue(ctx, clk.Now())
			if err != nil || len(claimed) != 1 || claimed[0].ID != sc.ID {
				t.Fatalf("claimDue = %+v, %v", claimed, err)
			}
			other := newInstance()
			if sent, err := other.SendDue(ctx); err != nil || len(sent) != 0 {
				t.Fatalf("SendDue during the lease = %v, %v; want nothing", sent, err)
			}
			clk.Advance(31 * time.Second)
			sent, err := other.SendDue(ctx)
			if err != nil || len(sent) != 1 || sent[0].URL != sc.Alert.URL {
				t.Fatalf("SendDue after the lease = %+v, %v; want the claimed alert", sent, err)
			}
			if n := len(publishedEvents(t, svc.log)) - before; n != 1 {
				t.Fatalf("%d alerts published, want 1", n)
			}
			clk.Advance(time.Minute)
			if sent, err := other.SendDue(ctx); err != nil || len(sent) != 0 {
				t.Fatalf("SendDue once sent = %v, %v; want nothing", sent, err)
			}
		})
		t.Run("CrashAfterPublish", func(t *testing.T) {
			before := len(publishedEvents(t, svc.log))
			sc := schedule(t, "https://news.example.com/publish")
			// The first instance claims, publishes and dies before
			// forgetting the entry.
			first := newInstance()
			claimed, err := first.claimDue(ctx, clk.Now())
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claimDue = %+v, %v", claimed, err)
			}
			pub, _, err := first.Publish(ctx, claimed[0].Alert, PublishOptions{Force: true, SkipGap: true, Once: sc.ID})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(31 * time.Second)
			other := newInstance()
			if sent, err := other.SendDue(ctx); err != nil || len(sent) != 0 {
				t.Fatalf("SendDue after the lease = %v, %v; want nothing new", sent, err)
			}
			evs := publishedEvents(t, svc.log)
			if n := len(evs) - before; n != 1 || evs[len(evs)-1].ID != pub.ID {
				t.Fatalf("%d alerts published, want only %s", n, pub.ID)
			}
			clk.Advance(time.Minute)
			if due, err := other.claimDue(ctx, clk.Now()); err != nil || len(due) != 0 {
				t.Fatalf("entry left after the repeat: %+v, %v", due, err)
			}
		})
		t.Run("RetryLeavesInflight", func(t *testing.T) {
			// A publish that fails for a passing reason waits again in the
			// schedule, not in flight.
			sc := schedule(t, "https://news.example.com/retry")
			claimed, err := svc.claimDue(ctx, clk.Now())
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claimDue = %+v, %v", claimed, err)
			}
			claimed[0].Attempts++
			if err := svc.storeScheduled(ctx, claimed[0]); err != nil {
				t.Fatal(err)
			}
			n, err := rdb.ZCard(ctx, keyScheduledInflight).Result()
			if err != nil || n != 0 {
				t.Fatalf("%d in flight, %v; want 0", n, err)
			}
			list, err := svc.ScheduledAlerts(ctx)
			if err != nil || len(list) != 1 || list[0].ID != sc.ID {
				t.Fatalf("ScheduledAlerts = %+v, %v", list, err)
			}
			if _, err := svc.CancelScheduled(ctx, sc.ID); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func BenchmarkPublishOnce(b *testing.B) {
	_, rdb := redistest.Start(b)
	svc := NewService(NewLog(rdb), openTaxonomy{})
	a := validAlert()
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		// Half fresh keys, half repeats.
		key := "bench-" + strconv.Itoa(i/2)
		if _, _, err := svc.Publish(ctx, a, PublishOptions{Force: true, Once: key}); err != nil {
			b.Fatal(err)
		}
	}
}
