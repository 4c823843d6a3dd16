package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/notifier/outbound"
)

// directory is a partner directory the tests control.
type directory struct {
	mu      sync.Mutex
	targets map[string]Target
	reasons map[string]string
}

func newDirectory(ts ...Target) *directory {
	d := &directory{targets: map[string]Target{}, reasons: map[string]string{}}
	for _, t := range ts {
		d.targets[t.ID] = t
	}
	return d
}

func (d *directory) Match(_ context.Context, _ flashwire.Event, _ time.Time) ([]Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Target
	for _, t := range d.targets {
		if t.State == "active" {
			out = append(out, t)
		}
	}
	return out, nil
}

func (d *directory) Targets(_ context.Context, ids []string) (map[string]Target, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]Target{}
	for _, id := range ids {
		if t, ok := d.targets[id]; ok {
			out[id] = t
		}
	}
	return out, nil
}

func (d *directory) Disable(_ context.Context, id, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.targets[id]
	t.State = "disabled"
	d.targets[id] = t
	d.reasons[id] = reason
	return nil
}

func (d *directory) setState(id, state string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.targets[id]
	t.State = state
	d.targets[id] = t
}

func (d *directory) reason(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reasons[id]
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hit is one request a receiver got.
type hit struct {
	ID     string
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a partner endpoint on loopback that records every request
// and answers with answer (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(tb testing.TB, answer func(w http.ResponseWriter, r *http.Request)) *receiver {
	tb.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{ID: r.Header.Get("webhook-id"), Header: r.Header.Clone(), Body: body, At: time.Now()})
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(w, r)
		}
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) Hits() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testOutbound allows loopback, where the tests' receivers listen.
var testOutbound = func() outbound.Config {
	a, err := outbound.ParseAllow([]string{"127.0.0.1"})
	if err != nil {
		panic(err)
	}
	return outbound.Config{Allow: a}
}()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startSender runs a sender until the test ends.
func startSender(tb testing.TB, s *Sender) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	tb.Cleanup(stop)
	return stop
}

func newTestSender(rdb redis.UniversalClient, dir Directory, opts Options) *Sender {
	opts.Outbound = testOutbound
	if opts.Poll == 0 {
		opts.Poll = 10 * time.Millisecond
	}
	opts.Logger = quiet()
	return NewSender(rdb, dir, NewSecrets(rdb), opts)
}

// enqueue queues n alert deliveries for the partner directly.
func enqueue(tb testing.TB, q *Queue, partnerID string, n int, at time.Time) []Delivery {
	tb.Helper()
	ds := make([]Delivery, n)
	for i := range ds {
		id := fmt.Sprintf("%d-%d", at.UnixMilli(), i)
		body, _ := json.Marshal(message{Type: string(flashwire.Published), Timestamp: at, Data: flashwire.Alert{ID: id, Headline: "h" + strconv.Itoa(i)}})
		ds[i] = Delivery{ID: DeliveryID(id, partnerID), PartnerID: partnerID, Type: string(flashwire.Published),
			AlertID: id, CreatedAt: at, State: StatePending, Body: body}
	}
	if _, err := q.Enqueue(context.Background(), ds); err != nil {
		tb.Fatal(err)
	}
	return ds
}
