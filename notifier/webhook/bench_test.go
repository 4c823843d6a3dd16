package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
)

// countingReceivers starts n loopback partner endpoints that count what
// they get and answer 204.
func countingReceivers(b *testing.B, n int) ([]string, *atomic.Int64) {
	b.Helper()
	var got atomic.Int64
	urls := make([]string, n)
	for i := range urls {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	return urls, &got
}

// BenchmarkSignedDeliveries measures signed deliveries per second through
// the whole path (Redis queue, claim, sign, POST over loopback, record) to
// 20 partners on one instance.
func BenchmarkSignedDeliveries(b *testing.B) {
	_, rdb := redistest.Start(b)
	ctx := context.Background()
	urls, got := countingReceivers(b, 20)
	dir := newDirectory()
	for i, u := range urls {
		dir.targets[fmt.Sprintf("pt_%d", i)] = Target{ID: fmt.Sprintf("pt_%d", i), URL: u, State: "active"}
	}
	sender := newTestSender(rdb, dir, Options{Workers: 128, PerPartner: 16})
	for id := range dir.targets {
		if _, err := sender.secrets.Create(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	per := b.N/len(urls) + 1
	for i := range urls {
		enqueue(b, sender.queue, fmt.Sprintf("pt_%d", i), per, now.Add(time.Duration(i)*time.Millisecond))
	}
	want := int64(per * len(urls))
	b.ResetTimer()
	start := time.Now()
	stop := startSender(b, sender)
	for got.Load() < want {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
}

// BenchmarkOneAlertTo1000Partners measures the time from publishing one
// alert to the last of 1,000 partners receiving it: log, consumer group,
// 1,000 durable deliveries, signed POSTs.
func BenchmarkOneAlertTo1000Partners(b *testing.B) {
	_, rdb := redistest.Start(b)
	ctx := context.Background()
	urls, got := countingReceivers(b, 50)
	dir := newDirectory()
	for i := range 1000 {
		id := fmt.Sprintf("pt_%04d", i)
		dir.targets[id] = Target{ID: id, URL: fmt.Sprintf("%s/p/%d", urls[i%len(urls)], i), State: "active"}
	}
	sender := newTestSender(rdb, dir, Options{Workers: 128})
	for id := range dir.targets {
		if _, err := sender.secrets.Create(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	log := notifier.NewLog(rdb)
	disp := NewDispatcher(log, "bench", dir, sender, nil, quiet())
	if err := disp.Group().Create(ctx); err != nil {
		b.Fatal(err)
	}
	startSender(b, sender)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = disp.Run(dctx) }()
	var worst time.Duration
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		before := got.Load()
		start := time.Now()
		if _, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: flashwire.Alert{
			Headline: fmt.Sprintf("Alert %d", i), URL: "https://news.example/a", Topics: []string{"world"},
			Language: "en", Priority: flashwire.Flash, PublishedAt: time.Now().UTC()}}); err != nil {
			b.Fatal(err)
		}
		for got.Load() < before+1000 {
			time.Sleep(200 * time.Microsecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-all-1000/alert")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}
