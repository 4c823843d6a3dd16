package notifier

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

func TestStats(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	stats := NewStats(rdb)
	// Two instances report their fan-out of the same alert.
	var first []time.Duration
	for i := 1; i <= 98; i++ {
		first = append(first, time.Duration(i)*time.Millisecond)
	}
	if err := stats.Record(ctx, "1-0", WebSocket, Tally{Reached: 98, Latencies: first}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", WebSocket, Tally{Reached: 2, Failed: 1, Latencies: []time.Duration{900 * time.Millisecond, 950 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", Webhook, Tally{Pending: 3}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", Webhook, Tally{Pending: -1, Reached: 1, Latencies: []time.Duration{40 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	got, err := stats.Get(ctx, "1-0")
	if err != nil {
		t.Fatal(err)
	}
	ws := got[WebSocket]
	if ws.Reached != 100 || ws.Failed != 1 || ws.FirstMS == nil || *ws.FirstMS != 1 {
		t.Fatalf("websocket = %+v", ws)
	}
	// The true median is 50 ms and p99 is 900 ms; buckets are at most 19% wide.
	if *ws.MedianMS < 50 || *ws.MedianMS > 50*1.19 || *ws.P99MS < 900 || *ws.P99MS > 900*1.19 {
		t.Fatalf("median %v, p99 %v", *ws.MedianMS, *ws.P99MS)
	}
	if wh := got[Webhook]; wh.Pending != 2 || wh.Reached != 1 {
		t.Fatalf("webhook = %+v", wh)
	}
	if _, ok := got[SSE]; ok {
		t.Fatal("sse has figures though nothing was recorded")
	}
}

// TestStatsCountRecipients: one alert, one update and one retraction to two
// readers, reported by two instances, is 2 reached, 2 updates and 2
// retractions, not 6 reached. A reader an update moves the alert away from
// and a later one brings it back to counts once; one an update reaches
// first counts too.
func TestStatsCountRecipients(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		stats := NewStats(rdb)
		// record reports one delivery of the log event id (the alert is
		// 2-0, its updates 3-0, 4-0, ...).
		record := func(id string, told, event flashwire.EventType, reader string) {
			t.Helper()
			if err := stats.Record(ctx, "2-0", SSE, Delivered(told, event, reader, id, time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		check := func(reached, updates, retractions int64) {
			t.Helper()
			got, err := stats.Get(ctx, "2-0")
			if err != nil {
				t.Fatal(err)
			}
			if sse := got[SSE]; sse.Reached != reached || sse.Updates != updates || sse.Retractions != retractions {
				t.Errorf("sse = reached %d, updates %d, retractions %d; want %d, %d, %d", sse.Reached, sse.Updates, sse.Retractions, reached, updates, retractions)
			}
			if _, ok := got[WebSocket]; ok {
				t.Error("websocket has figures though nothing was recorded")
			}
		}
		for _, reader := range []string{"reader-a", "reader-b"} {
			record("2-0", flashwire.Published, flashwire.Published, reader)
			record("3-0", flashwire.Updated, flashwire.Updated, reader)
		}
		check(2, 2, 0)
		// A correction (4-0) moves the alert away from reader-a and brings
		// it to reader-c; the next (5-0) brings it back to reader-a.
		record("4-0", flashwire.Retracted, flashwire.Updated, "reader-a")
		record("4-0", flashwire.Published, flashwire.Updated, "reader-c")
		record("5-0", flashwire.Published, flashwire.Updated, "reader-a")
		check(3, 2, 1)
		// The same moves for reader-d and reader-e, reported in the other
		// order, as two fan-outs finishing out of turn do: they count the
		// same. reader-d had the publication; reader-e first got it from
		// 4-0, lost it in 5-0 and got it back in 6-0.
		record("2-0", flashwire.Published, flashwire.Published, "reader-d")
		record("5-0", flashwire.Published, flashwire.Updated, "reader-d")
		record("4-0", flashwire.Retracted, flashwire.Updated, "reader-d")
		record("6-0", flashwire.Published, flashwire.Updated, "reader-e")
		record("5-0", flashwire.Retracted, flashwire.Updated, "reader-e")
		record("4-0", flashwire.Published, flashwire.Updated, "reader-e")
		check(5, 2, 3)
		for _, reader := range []string{"reader-a", "reader-b", "reader-c", "reader-d", "reader-e"} {
			record("7-0", flashwire.Retracted, flashwire.Retracted, reader)
		}
		check(5, 2, 8)
	})
}
