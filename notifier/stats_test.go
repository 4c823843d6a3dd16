package notifier

import (
	"context"
	"testing"
	"time"

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
