package notifier

import (
	"context"
	"fmt"
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
	var readers []string
	for i := 1; i <= 98; i++ {
		first = append(first, time.Duration(i)*time.Millisecond)
		readers = append(readers, fmt.Sprintf("conn-%d", i))
	}
	if err := stats.Record(ctx, "1-0", WebSocket, Tally{Recipients: readers, Latencies: first}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", WebSocket, Tally{Recipients: []string{"conn-99", "conn-100"}, Failed: 1, Latencies: []time.Duration{900 * time.Millisecond, 950 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", Webhook, Tally{Pending: 3}); err != nil {
		t.Fatal(err)
	}
	if err := stats.Record(ctx, "1-0", Webhook, Tally{Pending: -1, Recipients: []string{"partner-1"}, Latencies: []time.Duration{40 * time.Millisecond}}); err != nil {
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
// retractions, not 6 reached; a recipient reported again counts once.
func TestStatsCountRecipients(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		stats := NewStats(rdb)
		for _, instance := range []string{"a", "b"} {
			reader := "reader-" + instance
			for _, typ := range []flashwire.EventType{flashwire.Published, flashwire.Updated, flashwire.Retracted} {
				if err := stats.Record(ctx, "2-0", SSE, Delivered(typ, reader, time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The same reader reported again, as a reconnecting instance might.
		if err := stats.Record(ctx, "2-0", SSE, Delivered(flashwire.Published, "reader-a", time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		got, err := stats.Get(ctx, "2-0")
		if err != nil {
			t.Fatal(err)
		}
		if sse := got[SSE]; sse.Reached != 2 || sse.Updates != 2 || sse.Retractions != 2 {
			t.Errorf("sse = reached %d, updates %d, retractions %d; want 2, 2, 2", sse.Reached, sse.Updates, sse.Retractions)
		}
		if _, ok := got[WebSocket]; ok {
			t.Error("websocket has figures though nothing was recorded")
		}
	})
}
