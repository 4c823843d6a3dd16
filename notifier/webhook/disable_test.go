package webhook

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

func TestGoneDisablesAndReplay(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	var mu sync.Mutex
	gone := true
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			w.WriteHeader(http.StatusGone)
		}
	})
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	sender := newTestSender(rdb, dir, Options{PerPartner: 1})
	_, _ = sender.secrets.Create(ctx, "pt_a")
	ds := enqueue(t, sender.queue, "pt_a", 3, time.Now().Add(-time.Minute))
	startSender(t, sender)
	waitFor(t, "the partner to be disabled", func() bool { return dir.reason("pt_a") != "" })
	waitFor(t, "every delivery to be held", func() bool {
		n, _ := sender.queue.Parked(ctx, "pt_a")
		return n == 3
	})
	if n := len(rc.Hits()); n != 1 {
		t.Errorf("%d requests after a 410; only the first should be sent", n)
	}

	// An admin re-enables the partner and replays what it missed.
	mu.Lock()
	gone = false
	mu.Unlock()
	dir.setState("pt_a", "active")
	n, err := sender.queue.ReplaySince(ctx, "pt_a", time.Now().Add(-time.Hour), time.Now(), 10*time.Millisecond)
	if err != nil || n != 3 {
		t.Fatalf("ReplaySince = %d, %v", n, err)
	}
	sender.Wake()
	waitFor(t, "the replayed deliveries", func() bool { return len(rc.Hits()) == 4 })
	for _, d := range ds {
		got, err := sender.queue.Delivery(ctx, "pt_a", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "delivered state", func() bool {
			got, _ = sender.queue.Delivery(ctx, "pt_a", d.ID)
			return got.State == StateDelivered
		})
	}
	if err := sender.queue.Replay(ctx, "pt_a", "msg_nope", time.Now()); err == nil {
		t.Error("replay of an unknown delivery succeeded")
	}
}

func TestDisableAfterADayOfFailures(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	clk := &clock{t: time.Now()}
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	_, _ = sender.secrets.Create(ctx, "pt_a")
	enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	startSender(t, sender)
	waitFor(t, "the first failure", func() bool { return len(rc.Hits()) == 1 })
	clk.Advance(23 * time.Hour)
	enqueue(t, sender.queue, "pt_a", 1, clk.Now().Add(time.Millisecond))
	waitFor(t, "a failure after 23 hours", func() bool { return len(rc.Hits()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	if r := dir.reason("pt_a"); r != "" {
		t.Fatalf("disabled after 23 hours: %s", r)
	}
	clk.Advance(90 * time.Minute)
	enqueue(t, sender.queue, "pt_a", 1, clk.Now().Add(2*time.Millisecond))
	waitFor(t, "the partner to be disabled", func() bool { return dir.reason("pt_a") != "" })

	// Re-enabled, the partner gets a fresh day: one more failure does not
	// disable it again.
	dir.mu.Lock()
	delete(dir.reasons, "pt_a")
	dir.mu.Unlock()
	dir.setState("pt_a", "active")
	clk.Advance(time.Minute) // past the circuit breaker's cooldown
	hits := len(rc.Hits())
	enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	waitFor(t, "a failure after re-enabling", func() bool { return len(rc.Hits()) > hits })
	time.Sleep(50 * time.Millisecond)
	if r := dir.reason("pt_a"); r != "" {
		t.Fatalf("disabled again at the first failure after re-enabling: %s", r)
	}
}
