package notifier

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// consumeInto runs a consumer until ctx ends, recording every event it
// accepted. stopAfter > 0 makes it "crash" after that many: it cancels
// itself and refuses the rest, which stay unacknowledged.
func consumeInto(ctx context.Context, g *Group, seen *sync.Map, stopAfter int) (done chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	done = make(chan struct{})
	n := 0
	go func() {
		defer close(done)
		defer cancel()
		_ = g.Consume(ctx, func(ev flashwire.Event) error {
			if stopAfter > 0 && n >= stopAfter {
				cancel()
				return errors.New("crashed")
			}
			n++
			seen.Store(ev.ID, ev.Type)
			return nil
		})
	}()
	return done
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}

func TestGroupConsume(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		log := NewLog(rdb)
		crashing := log.Group("webhooks", "a")
		if err := crashing.Create(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 20 {
			ev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: validAlert()})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}

		t.Run("CrashTakenOver", func(t *testing.T) {
			var seen sync.Map
			// Consumer a reads all 20 in one batch and dies after 5.
			<-consumeInto(ctx, crashing, &seen, 5)
			if n := count(&seen); n != 5 {
				t.Fatalf("crashing consumer accepted %d, want 5", n)
			}
			other := log.Group("webhooks", "b")
			other.ClaimIdle = 200 * time.Millisecond
			done := consumeInto(ctx, other, &seen, 0)
			deadline := time.Now().Add(15 * time.Second)
			for count(&seen) < len(ids) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			for _, id := range ids {
				if _, ok := seen.Load(id); !ok {
					t.Errorf("event %s lost", id)
				}
			}
			// New events after the takeover reach the live consumer too.
			ev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: validAlert()})
			if err != nil {
				t.Fatal(err)
			}
			for time.Now().Before(deadline) {
				if _, ok := seen.Load(ev.ID); ok {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, ok := seen.Load(ev.ID); !ok {
				t.Errorf("new event %s not consumed", ev.ID)
			}
			cancel()
			<-done
			pending, err := rdb.XPending(context.Background(), keyLog, "webhooks").Result()
			if err != nil {
				t.Fatal(err)
			}
			if pending.Count != 0 {
				t.Errorf("%d events left unacknowledged", pending.Count)
			}
		})
	})
}

func TestGroupRestartSameName(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	log := NewLog(rdb)
	g := log.Group("webhooks", "a")
	if err := g.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: validAlert()}); err != nil {
			t.Fatal(err)
		}
	}
	var seen sync.Map
	<-consumeInto(ctx, g, &seen, 3)
	// The same consumer name after a restart finishes its own pending
	// events at once, without waiting for ClaimIdle.
	g2 := log.Group("webhooks", "a")
	g2.ClaimIdle = time.Hour
	cctx, cancel := context.WithCancel(ctx)
	done := consumeInto(cctx, g2, &seen, 0)
	deadline := time.Now().Add(15 * time.Second)
	for count(&seen) < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := count(&seen); n != 10 {
		t.Fatalf("%d of 10 events consumed after the restart", n)
	}
	// A consumer that stops with nothing pending leaves the group.
	consumers, err := rdb.XInfoConsumers(ctx, keyLog, "webhooks").Result()
	if err != nil || len(consumers) != 0 {
		t.Fatalf("consumers left in the group: %v, %v", consumers, err)
	}
}
