package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"flashwire/internal/redistest"
	"flashwire/notifier/outbound"
)

// TestInterruptedAttempt stands in for an instance that dies mid-request:
// a delivery is claimed, which marks its try in flight, and nothing more
// happens to it. When its lease runs out the next claim records the cut try in the
// delivery log as interrupted, once, and the re-send is attempt 2.
func TestInterruptedAttempt(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	q := NewQueue(rdb)
	ds := enqueue(t, q, "pt_a", 1, clk.Now())

	// The instance that dies: it claims, which marks its try, and is gone.
	claimed, _, err := q.claim(ctx, clk.Now(), clk.Now().Add(time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}

	// Another instance, once the lease is over.
	clk.Advance(time.Minute)
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	_, _ = sender.secrets.Create(ctx, "pt_a")
	startSender(t, sender)
	waitFor(t, "the re-send", func() bool { return len(rc.Hits()) == 1 })
	waitFor(t, "both attempts in the log", func() bool {
		_, n, _ := sender.queue.Attempts(ctx, "pt_a", 0, 10)
		return n == 2
	})
	as, _, _ := sender.queue.Attempts(ctx, "pt_a", 0, 10)
	if as[1].Outcome != "interrupted" || as[1].Attempt != 1 || !as[1].At.Equal(clk.Now().Add(-time.Minute)) || as[1].Error == "" {
		t.Errorf("older attempt %+v, want attempt 1 interrupted at the first claim's time", as[1])
	}
	if as[0].Outcome != "delivered" || as[0].Attempt != 2 || as[0].DeliveryID != ds[0].ID {
		t.Errorf("newer attempt %+v, want attempt 2 delivered", as[0])
	}
	if d, _ := sender.queue.Delivery(ctx, "pt_a", ds[0].ID); d.Attempts != 2 || d.State != StateDelivered {
		t.Errorf("delivery %+v, want delivered after 2 attempts", d)
	}
	if rc.Hits()[0].ID != ds[0].ID {
		t.Errorf("re-sent with webhook-id %q, want %q", rc.Hits()[0].ID, ds[0].ID)
	}
}

// TestReplayKeepsCounting replays a delivery whose schedule is spent: the
// log numbers the replay's tries after the earlier ones, while the retry
// schedule starts over.
func TestReplayKeepsCounting(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	sender.Rand = func() float64 { return 0.5 } // no jitter
	_, _ = sender.secrets.Create(ctx, "pt_a")
	ds := enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	// Nine tries spend the schedule.
	d := ds[0]
	d.Attempts = len(outbound.Schedule) + 1
	if _, err := sender.queue.finish(ctx, d, StateFailed, time.Time{}, nil, "", clk.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := sender.queue.Replay(ctx, "pt_a", d.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	startSender(t, sender)
	waitFor(t, "the replayed try", func() bool {
		_, n, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
		return n == 1
	})
	as, _, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
	if as[0].Attempt != len(outbound.Schedule)+2 || as[0].Outcome != "retry" || as[0].NextAttempt == nil || !as[0].NextAttempt.Equal(clk.Now().Add(5*time.Second)) {
		t.Fatalf("replayed try %+v, want attempt 10, a retry 5 s later: the count goes on, the schedule starts over", as[0])
	}
}

// TestRefusedAddressFailsAtOnce sends to a partner whose host name
// resolves to an address webhooks may not reach: the delivery fails at the
// first attempt with the reason, is never retried, and the partner is
// disabled with the reason, its other deliveries held for a replay.
func TestRefusedAddressFailsAtOnce(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	// localhost resolves to loopback; nothing is allowed here.
	dir := newDirectory(Target{ID: "pt_a", URL: "https://localhost:1/hook", State: "active"})
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	sender := NewSender(rdb, dir, NewSecrets(rdb), Options{Poll: 10 * time.Millisecond, Logger: quiet()})
	sender.Now = clk.Now
	_, _ = sender.secrets.Create(ctx, "pt_a")
	ds := enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	startSender(t, sender)
	waitFor(t, "the partner to be disabled", func() bool { return dir.reason("pt_a") != "" })
	if r := dir.reason("pt_a"); !strings.Contains(r, "address not allowed") || !strings.Contains(r, "a loopback address") || strings.Contains(r, "127.0.0.1") {
		t.Errorf("disabled with reason %q, want why, without the address", r)
	}
	ds = append(ds, enqueue(t, sender.queue, "pt_a", 2, clk.Now().Add(-time.Millisecond))...)
	waitFor(t, "the later deliveries to be held", func() bool {
		n, _ := sender.queue.Parked(ctx, "pt_a")
		return n == 2
	})
	clk.Advance(24 * time.Hour)
	sender.Wake()
	time.Sleep(50 * time.Millisecond)
	as, total, _ := sender.queue.Attempts(ctx, "pt_a", 0, 10)
	if total != 1 || as[0].Outcome != "failed" || as[0].NextAttempt != nil || !strings.HasPrefix(as[0].Error, "address not allowed") {
		t.Fatalf("attempts %+v, want one, failed at once with the reason", as)
	}
	failed := 0
	for _, d := range ds {
		if got, _ := sender.queue.Delivery(ctx, "pt_a", d.ID); got.State == StateFailed && got.Attempts == 1 {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d deliveries failed after one attempt, want 1", failed)
	}
}
