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
	// Counted before the clock moves: past the breaker's cooldown, the
	// retries of earlier deliveries may go out at once.
	hits := len(rc.Hits())
	clk.Advance(time.Minute) // past the circuit breaker's cooldown
	enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	waitFor(t, "a failure after re-enabling", func() bool { return len(rc.Hits()) > hits })
	time.Sleep(50 * time.Millisecond)
	if r := dir.reason("pt_a"); r != "" {
		t.Fatalf("disabled again at the first failure after re-enabling: %s", r)
	}
}

// TestOneDisablePerRunOfFailures records several failures that each end a
// day of failures at once, as concurrent attempts do: exactly one of them
// disables the partner, and the others start the next run, so a partner
// re-enabled meanwhile is not disabled again by a straggler.
func TestOneDisablePerRunOfFailures(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	q := NewQueue(rdb)
	start := time.Now().Truncate(time.Millisecond)
	ds := enqueue(t, q, "pt_a", 4, start)
	fail := func(d Delivery, at time.Time) finished {
		t.Helper()
		d.Attempts++
		f, err := q.finish(ctx, d, StatePending, at.Add(time.Minute), &Attempt{DeliveryID: d.ID, Outcome: "retry"}, "fail", at, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := fail(ds[0], start); f.disable || !f.failingSince.Equal(start) {
		t.Fatalf("first failure %+v, want the run to start", f)
	}
	day := start.Add(24 * time.Hour)
	disables := 0
	for _, d := range ds[1:] {
		if fail(d, day).disable {
			disables++
		}
	}
	if disables != 1 {
		t.Fatalf("%d of 3 failures a day on disabled the partner, want exactly 1", disables)
	}
	if f := fail(ds[0], day.Add(time.Minute)); f.disable || f.failingSince.Before(day) {
		t.Fatalf("a failure after the disable %+v, want a run that began at the disable or later", f)
	}
}
