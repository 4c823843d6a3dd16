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
