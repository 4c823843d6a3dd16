package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// Size of BenchmarkWebhookThroughput's run: every alert goes to every
// partner, one delivery each.
const (
	throughputPartners = 100
	throughputAlerts   = 200
)

// BenchmarkWebhookThroughput measures deliveries per second to the same 100
// loopback receivers two ways, one after the other in the same run:
//
//   - floor: a bare loop of signed keep-alive POSTs, DefaultWorkers at a
//     time, the bodies encoded and the secrets known in advance: what the
//     machine can do with no queue at all;
//   - flashwire: alerts published through notifier.Service, dispatched from
//     the alert log, queued in a redis-server with appendonly yes and
//     appendfsync everysec, claimed, signed and posted by a Sender with its
//     default settings, to partners kept by subscribers.Store; the clock
//     runs from the first publish to the last receipt.
//
// Each op is 200 alerts to 100 partners (20,000 deliveries). Run with
// -count=3; the ratio is flashwire over floor. CPU time per delivery, this
// process's (receivers included, in both) and redis-server's, depends less
// on what else the machine runs than deliveries per second do.
func BenchmarkWebhookThroughput(b *testing.B) {
	urls, got := countingReceivers(b, throughputPartners)
	b.Run("floor", func(b *testing.B) { benchFloor(b, urls, got) })
	b.Run("flashwire", func(b *testing.B) { benchFlashwire(b, urls, got) })
}

func benchFloor(b *testing.B, urls []string, got *atomic.Int64) {
	secrets := make([]string, len(urls))
	for i := range secrets {
		secrets[i] = NewSecret()
	}
	bodies := make([][]byte, throughputAlerts)
	for i := range bodies {
		bodies[i], _ = json.Marshal(message{Type: string(flashwire.Published), Timestamp: time.Now().UTC(),
			Data: benchAlert(i)})
	}
	client := newClient(Options{Outbound: testOutbound, Timeout: DefaultTimeout})
	type job struct{ alert, partner int }
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	for range b.N {
		before := got.Load()
		jobs := make(chan job, DefaultWorkers)
		var wg sync.WaitGroup
		for range DefaultWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					id := "msg_" + strconv.Itoa(j.alert) + "_" + strconv.Itoa(j.partner)
					ts := time.Now()
					sig, err := Sign(id, ts, bodies[j.alert], secrets[j.partner])
					if err != nil {
						b.Error(err)
						return
					}
					req, _ := http.NewRequest(http.MethodPost, urls[j.partner], bytes.NewReader(bodies[j.alert]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("webhook-id", id)
					req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
					req.Header.Set("webhook-signature", sig)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		for a := range throughputAlerts {
			for p := range urls {
				jobs <- job{a, p}
			}
		}
		close(jobs)
		wg.Wait()
		if n := got.Load() - before; n != throughputAlerts*int64(len(urls)) {
			b.Fatalf("receivers got %d, want %d", n, throughputAlerts*len(urls))
		}
	}
	b.StopTimer()
	n := float64(b.N * throughputAlerts * len(urls))
	b.ReportMetric(n/time.Since(start).Seconds(), "deliveries/s")
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/n, "cpu-µs/delivery")
}

func benchFlashwire(b *testing.B, urls []string, got *atomic.Int64) {
	_, rdb := redistest.StartWith(b, redistest.Options{AppendOnly: true})
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		b.Fatal(err)
	}
	secrets := NewSecrets(rdb)
	for i, u := range urls {
		p, err := store.CreatePartner(ctx, subscribers.Partner{Name: fmt.Sprintf("Partner %d", i), URL: u + "/hook",
			Topics: []string{"world"}, Events: []flashwire.EventType{flashwire.Published}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := secrets.Create(ctx, p.ID); err != nil {
			b.Fatal(err)
		}
	}
	stats := notifier.NewStats(rdb)
	sender := NewSender(rdb, NewStoreDirectory(store), secrets, Options{Outbound: testOutbound, Logger: quiet(), Stats: stats})
	alertLog := notifier.NewLog(rdb)
	alerts := notifier.NewService(alertLog, store)
	disp := NewDispatcher(alertLog, "bench", NewStoreDirectory(store), sender, stats, quiet())
	if err := disp.Group().Create(ctx); err != nil {
		b.Fatal(err)
	}
	startSender(b, sender)
	dctx, cancel := context.WithCancel(ctx)
	dispDone := make(chan struct{})
	go func() { defer close(dispDone); _ = disp.Run(dctx) }()
	b.Cleanup(func() { cancel(); <-dispDone })

	want := int64(throughputAlerts * len(urls))
	redisCPU := func() time.Duration {
		info, err := rdb.Info(ctx, "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for _, line := range strings.Fields(info) {
			for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
				if v, ok := strings.CutPrefix(line, k); ok {
					f, _ := strconv.ParseFloat(v, 64)
					sum += f
				}
			}
		}
		return time.Duration(sum * float64(time.Second))
	}
	b.ResetTimer()
	start, cpu, rcpu := time.Now(), processCPU(), redisCPU()
	var publishing time.Duration
	for n := range b.N {
		before := got.Load()
		p := time.Now()
		for i := range throughputAlerts {
			if _, _, err := alerts.Publish(ctx, benchAlert(n*throughputAlerts+i), notifier.PublishOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		publishing += time.Since(p)
		for got.Load() < before+want {
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	n := float64(int64(b.N) * want)
	b.ReportMetric(n/time.Since(start).Seconds(), "deliveries/s")
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/n, "cpu-µs/delivery")
	b.ReportMetric(float64((redisCPU()-rcpu).Microseconds())/n, "redis-cpu-µs/delivery")
	// How long publishing the alerts took, of the whole: when it is near
	// the whole, the publishing path sets the pace, not delivery.
	b.ReportMetric(100*publishing.Seconds()/time.Since(start).Seconds(), "%publishing")
}

// processCPU is the CPU time this process has used, receivers included.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchAlert is the i-th distinct flash alert on the topic every benchmark
// partner follows.
func benchAlert(i int) flashwire.Alert {
	return flashwire.Alert{Headline: fmt.Sprintf("Alert %d", i), URL: fmt.Sprintf("https://news.example/a/%d", i),
		Topics: []string{"world"}, Language: "en", Priority: flashwire.Flash, PublishedAt: time.Now().UTC()}
}
