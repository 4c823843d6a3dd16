package web

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
)

// BenchmarkSlowConsumer measures what a reader that never reads costs the
// others. 200 fast readers read every alert while alerts go through the
// publish path (Redis log, the hub's tail, fan-out) at 20 a second, with
// and without one more connection that never reads (its socket holds 2
// KiB, so it backs up into the server at once). One op is one alert;
// p50-ms and p99-ms are the fast readers' times from publish to receipt,
// and slow-dropped says whether the hub let the slow one go. Run it long
// enough for the slow one to fill its queue:
//
//	go test -run '^$' -bench BenchmarkSlowConsumer -benchtime 400x ./web
func BenchmarkSlowConsumer(b *testing.B) {
	_, rdb := redistest.Start(b)
	const fast = 200
	summary := strings.Repeat("Officials confirmed the details minutes ago. ", 8)
	for _, withSlow := range []bool{false, true} {
		b.Run(fmt.Sprintf("slow=%v", withSlow), func(b *testing.B) {
			env := newLiveEnv(b, rdb, nil)
			type receipt struct {
				id string
				at time.Time
			}
			var mu sync.Mutex
			var receipts []receipt
			var wg sync.WaitGroup
			for range fast {
				c := dial(b, env.wsURL("topics=world"), nil)
				_ = c.SetReadDeadline(time.Time{}) // dial's is for the hello
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						_, data, err := c.ReadMessage()
						if err != nil {
							return
						}
						at := time.Now()
						if seq, ok := frameSeq(data); ok {
							mu.Lock()
							receipts = append(receipts, receipt{seq, at})
							mu.Unlock()
						}
					}
				}()
				b.Cleanup(func() { c.Close() })
			}
			if withSlow {
				// Wants everything and never reads past its hello.
				dialWith(b, smallReceiveBuffer, env.wsURL(""), nil)
			}
			sent := map[string]time.Time{}
			tick := time.NewTicker(time.Second / 20)
			defer tick.Stop()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				<-tick.C
				at := time.Now()
				a := env.publish(b, flashwire.Alert{Headline: fmt.Sprint("Slow consumer benchmark ", i), Summary: summary, Topics: []string{"world"}})
				sent[a.ID] = at
			}
			b.StopTimer()
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(receipts)
				mu.Unlock()
				if n >= fast*len(sent) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("the fast readers got %d of %d alerts (slow disconnects %v, connections %v)", n, fast*len(sent),
						counter(b, env.reg, "flashwire_live_slow_disconnects_total", ""), counter(b, env.reg, "flashwire_live_connections", ""))
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			latencies := make([]time.Duration, 0, len(receipts))
			for _, r := range receipts {
				latencies = append(latencies, r.at.Sub(sent[r.id]))
			}
			mu.Unlock()
			slices.Sort(latencies)
			ms := func(q float64) float64 {
				return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(counter(b, env.reg, "flashwire_live_slow_disconnects_total", ""), "slow-dropped")
		})
	}
}

// frameSeq returns the seq of an alert frame.
func frameSeq(data []byte) (string, bool) {
	const key = `"seq":"`
	s := string(data)
	if !strings.Contains(s, `"type":"alert"`) {
		return "", false
	}
	i := strings.Index(s, key)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(key):]
	j := strings.IndexByte(rest, '"')
	return rest[:j], j > 0
}
