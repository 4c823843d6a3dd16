package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/internal/redistest"
)

// BenchmarkFanOut measures the hub's fan-out path end to end: one event,
// encoded once, written to every connected WebSocket over loopback and
// read by gorilla clients. One op is one alert reaching every client.
func BenchmarkFanOut(b *testing.B) {
	_, rdb := redistest.Start(b)
	for _, conns := range []int{100, 1000} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			env := newLiveEnv(b, rdb, nil)
			got := make(chan struct{}, conns)
			for range conns {
				c := dial(b, env.wsURL(""), nil)
				go func() {
					for {
						_ = c.SetReadDeadline(time.Now().Add(time.Minute))
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						got <- struct{}{}
					}
				}()
			}
			base := time.Now().UnixMilli() + 1000
			alert := flashwire.Alert{Headline: "Benchmark alert", Summary: "A summary of typical length for a breaking-news alert.", URL: "https://news.example.com/story", Topics: []string{"world"}, Regions: []string{"europe"}, Language: "en", Priority: flashwire.Flash}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("%d-%d", base, i)
				alert.ID = id
				f, err := newEventFrame(flashwire.Event{ID: id, Type: flashwire.Published, Alert: alert})
				if err != nil {
					b.Fatal(err)
				}
				env.hub.fanOut(f)
				for range conns {
					<-got
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*conns), "ns/write")
		})
	}
}

// BenchmarkFanOutMinimal is the floor BenchmarkFanOut compares with: a
// bare gorilla/websocket broadcaster that writes one prepared message to
// each connection in turn, with no filters, queues, metrics or figures.
func BenchmarkFanOutMinimal(b *testing.B) {
	for _, conns := range []int{100, 1000} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			var mu sync.Mutex
			var server []*websocket.Conn
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := upgrader.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				mu.Lock()
				server = append(server, c)
				mu.Unlock()
			}))
			defer ts.Close()
			got := make(chan struct{}, conns)
			for range conns {
				c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				go func() {
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						got <- struct{}{}
					}
				}()
			}
			for {
				mu.Lock()
				n := len(server)
				mu.Unlock()
				if n == conns {
					break
				}
				time.Sleep(time.Millisecond)
			}
			body := []byte(`{"type":"alert","seq":"1732650000000-0","alert":{"id":"1732650000000-0","headline":"Benchmark alert"}}`)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range server {
					_ = c.SetWriteDeadline(time.Now().Add(writeWait))
					_ = c.WritePreparedMessage(pm)
				}
				for range conns {
					<-got
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*conns), "ns/write")
		})
	}
}

// BenchmarkEncode is the once-per-event cost: JSON and the shared
// WebSocket and SSE bytes.
func BenchmarkEncode(b *testing.B) {
	ev := flashwire.Event{ID: "1732650000000-0", Type: flashwire.Published, Alert: flashwire.Alert{
		ID: "1732650000000-0", Headline: "Benchmark alert", URL: "https://news.example.com/story",
		Topics: []string{"world"}, Regions: []string{"europe"}, Language: "en", Priority: flashwire.Flash,
	}}
	b.ReportAllocs()
	for b.Loop() {
		f, err := newEventFrame(ev)
		if err != nil {
			b.Fatal(err)
		}
		_ = f.pm
	}
}
