package webhook

import (
	"context"
	"fmt"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

// TestEnqueueStoresEachOnce enqueues more deliveries than one call stores,
// then the same again, as when an event is offered twice: each is stored
// and made due once, and a claim takes them all.
func TestEnqueueStoresEachOnce(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	q := NewQueue(rdb)
	at := time.Now().Truncate(time.Millisecond)
	ds := make([]Delivery, 2*enqueueBatch+10)
	for i := range ds {
		ds[i] = Delivery{ID: DeliveryID("1-0", fmt.Sprintf("pt_%d", i)), PartnerID: fmt.Sprintf("pt_%d", i),
			Type: "alert.published", AlertID: "1-0", CreatedAt: at, State: StatePending, Body: []byte(`{}`)}
	}
	if n, err := q.Enqueue(ctx, ds); err != nil || n != len(ds) {
		t.Fatalf("first enqueue = %d, %v; want %d new", n, err, len(ds))
	}
	if n, err := q.Enqueue(ctx, ds); err != nil || n != 0 {
		t.Fatalf("second enqueue = %d, %v; want none new", n, err)
	}
	if depth, _, err := q.Depth(ctx, at); err != nil || depth != int64(len(ds)) {
		t.Fatalf("queue depth %d, %v; want %d", depth, err, len(ds))
	}
	seen := map[string]bool{}
	for {
		got, _, err := q.claim(ctx, at, at.Add(time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, d := range got {
			if seen[d.ID] {
				t.Fatalf("delivery %s claimed twice", d.ID)
			}
			seen[d.ID] = true
		}
	}
	if len(seen) != len(ds) {
		t.Errorf("claimed %d deliveries, want %d", len(seen), len(ds))
	}
}

// TestEventBodyStoredOnce enqueues one event's deliveries to many partners
// (and to one as a retraction) beside a ping with a body of its own: the
// event's body of each type is stored once, not in each delivery, and every
// claimed delivery, and the one an admin looks up, carries its own body.
func TestEventBodyStoredOnce(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	q := NewQueue(rdb)
	at := time.Now().Truncate(time.Millisecond)
	body := []byte(`{"type":"alert.published","data":{"id":"7-0"}}`)
	ds := make([]Delivery, enqueueBatch+5)
	for i := range ds {
		ds[i] = Delivery{ID: DeliveryID("7-0", fmt.Sprintf("pt_%d", i)), PartnerID: fmt.Sprintf("pt_%d", i), EventID: "7-0",
			Type: "alert.published", AlertID: "7-0", CreatedAt: at, State: StatePending, Body: body}
	}
	// The same event goes to one partner as a retraction, with its own body.
	retracted := []byte(`{"type":"alert.retracted","data":{"id":"7-0"}}`)
	ds = append(ds, Delivery{ID: DeliveryID("7-0", "pt_r"), PartnerID: "pt_r", EventID: "7-0",
		Type: "alert.retracted", AlertID: "7-0", CreatedAt: at, State: StatePending, Body: retracted})
	ping := Delivery{ID: "msg_ping_1_pt_0", PartnerID: "pt_0", Type: "ping", CreatedAt: at, State: StatePending, Body: []byte(`{"type":"ping"}`)}
	if _, err := q.Enqueue(ctx, append(ds, ping)); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.Get(ctx, keyEventBody("7-0", "alert.published")).Result(); err != nil || got != string(body) {
		t.Fatalf("event body %q, %v; want %q", got, err, body)
	}
	if ttl := rdb.PTTL(ctx, keyEventBody("7-0", "alert.published")).Val(); ttl <= 0 || ttl > KeepDeliveries {
		t.Errorf("event body expires in %s, want within %s", ttl, KeepDeliveries)
	}
	if rdb.HExists(ctx, keyDelivery(ds[3].ID), "body").Val() {
		t.Error("an event's delivery holds a copy of the body")
	}
	got, err := q.Delivery(ctx, "pt_3", ds[3].ID)
	if err != nil || string(got.Body) != string(body) || got.EventID != "7-0" {
		t.Fatalf("Delivery = %+v, %v; want the event's body", got, err)
	}
	claimed := 0
	for {
		batch, _, err := q.claim(ctx, at, at.Add(time.Minute), 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			break
		}
		for _, d := range batch {
			want := body
			switch d.ID {
			case ping.ID:
				want = ping.Body
			case DeliveryID("7-0", "pt_r"):
				want = retracted
			}
			if string(d.Body) != string(want) {
				t.Fatalf("claimed %s with body %q, want %q", d.ID, d.Body, want)
			}
			claimed++
		}
	}
	if claimed != len(ds)+1 {
		t.Errorf("claimed %d, want %d", claimed, len(ds)+1)
	}
}

// TestPostponeClearsMark claims a delivery, which marks its try in flight,
// and postpones it, as when its partner's circuit is open: claimed again,
// it is not taken for a try cut off, and no attempt is counted.
func TestPostponeClearsMark(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	q := NewQueue(rdb)
	at := time.Now().Truncate(time.Millisecond)
	ds := enqueue(t, q, "pt_a", 1, at)
	if got, _, err := q.claim(ctx, at, at.Add(time.Minute), 10); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	if err := q.postpone(ctx, later(ds[0].ID, at.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	got, _, err := q.claim(ctx, at.Add(time.Second), at.Add(time.Minute), 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("second claim = %v, %v", got, err)
	}
	if got[0].Interrupted || got[0].Attempts != 0 {
		t.Errorf("claimed after a postponement %+v, want no try counted", got[0])
	}
	if _, n, _ := q.Attempts(ctx, "pt_a", 0, 10); n != 0 {
		t.Errorf("%d attempts logged, want none", n)
	}
}

// TestMarkAfterOutcome claims a delivery, records its try as delivered and
// replays it: the claim's mark of that try is stale, so the replay's claim
// counts no interrupted try. A mark left by an earlier version, a full log
// entry, still counts as one.
func TestMarkAfterOutcome(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	q := NewQueue(rdb)
	at := time.Now().Truncate(time.Millisecond)
	ds := enqueue(t, q, "pt_a", 2, at)
	got, _, err := q.claim(ctx, at, at.Add(time.Minute), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	d := got[0]
	d.Attempts++
	if _, err := q.finish(ctx, d, StateDelivered, time.Time{}, &Attempt{DeliveryID: d.ID, Attempt: 1, At: at, Outcome: "delivered"}, "ok", at, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := q.Replay(ctx, "pt_a", d.ID, at); err != nil {
		t.Fatal(err)
	}
	// The other delivery carries a mark from an earlier version.
	other := ds[0].ID
	if other == d.ID {
		other = ds[1].ID
	}
	legacy := `{"delivery_id":"` + other + `","type":"alert.published","attempt":1,"at":"2026-01-02T03:04:05Z","status":0,"latency_ms":0,"response":"","error":"cut","outcome":"interrupted"}`
	rdb.HSet(ctx, keyDelivery(other), "inflight", legacy)
	got, _, err = q.claim(ctx, at, at.Add(time.Minute), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("second claim = %v, %v", got, err)
	}
	for _, g := range got {
		switch g.ID {
		case d.ID:
			if g.Interrupted || g.Attempts != 1 {
				t.Errorf("replayed delivery claimed as %+v, want attempts 1, nothing interrupted", g)
			}
		case other:
			if !g.Interrupted || g.Attempts != 1 {
				t.Errorf("delivery with an earlier version's mark claimed as %+v, want its try counted as interrupted", g)
			}
		}
	}
	as, n, _ := q.Attempts(ctx, "pt_a", 0, 10)
	if n != 2 || as[0].Outcome != "interrupted" || as[0].DeliveryID != other || as[1].Outcome != "delivered" {
		t.Errorf("attempts %+v, want the delivered try and the earlier version's interrupted one", as)
	}
}
