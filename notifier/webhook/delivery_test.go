package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
)

func TestDeliverEndToEnd(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		name := "Single"
		if cluster {
			name = "Cluster"
		}
		t.Run(name, func(t *testing.T) {
			var rdb redis.UniversalClient
			if cluster {
				_, rdb = redistest.StartCluster(t)
			} else {
				_, rdb = redistest.Start(t)
			}
			ctx := context.Background()
			rc := newReceiver(t, nil)
			dir := newDirectory(Target{ID: "pt_a", URL: rc.URL + "/hook", State: "active"})
			stats := notifier.NewStats(rdb)
			sender := newTestSender(rdb, dir, Options{Stats: stats, Version: "1.2.3"})
			secret, err := sender.secrets.Create(ctx, "pt_a")
			if err != nil {
				t.Fatal(err)
			}
			log := notifier.NewLog(rdb)
			disp := NewDispatcher(log, "test-1", dir, sender, stats, quiet())
			if err := disp.Group().Create(ctx); err != nil {
				t.Fatal(err)
			}
			startSender(t, sender)
			dctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() { _ = disp.Run(dctx) }()

			ev, err := log.Append(ctx, flashwire.Event{Type: flashwire.Published, Alert: flashwire.Alert{
				Headline: "Quake", URL: "https://news.example/q", Topics: []string{"world"}, Language: "en",
				Priority: flashwire.Flash, PublishedAt: time.Now().UTC()}})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the delivery", func() bool { return len(rc.Hits()) >= 1 })
			h := rc.Hits()[0]
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.Verify(h.Body, h.Header); err != nil {
				t.Fatalf("official verifier: %v", err)
			}
			if h.ID != DeliveryID(ev.ID, "pt_a") {
				t.Errorf("webhook-id %q, want %q", h.ID, DeliveryID(ev.ID, "pt_a"))
			}
			if ua := h.Header.Get("User-Agent"); ua != "Flashwire/1.2.3" {
				t.Errorf("User-Agent %q", ua)
			}
			var msg struct {
				Type      string          `json:"type"`
				Timestamp time.Time       `json:"timestamp"`
				Data      flashwire.Alert `json:"data"`
			}
			if err := json.Unmarshal(h.Body, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Type != "alert.published" || msg.Data.ID != ev.ID || msg.Data.Headline != "Quake" || msg.Timestamp.IsZero() {
				t.Errorf("body %s", h.Body)
			}
			waitFor(t, "the stats", func() bool {
				st, _ := stats.Get(ctx, ev.ID)
				w := st[notifier.Webhook]
				return w.Reached == 1 && w.Pending == 0
			})
			as, total, err := sender.queue.Attempts(ctx, "pt_a", 0, 10)
			if err != nil || total != 1 || as[0].Outcome != "delivered" || as[0].Status != 200 {
				t.Fatalf("attempts %+v total %d err %v", as, total, err)
			}
		})
	}
}

func TestRetrySchedule(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	})
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	clk := &clock{t: time.Now()}
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	sender.secrets.Now = clk.Now
	// +10 % on every wait: inside the ±20 % jitter, visibly not the plain schedule.
	sender.Rand = func() float64 { return 0.75 }
	secret, _ := sender.secrets.Create(ctx, "pt_a")
	ds := enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	startSender(t, sender)

	start := clk.Now()
	elapsed := time.Duration(0)
	for i := 0; i <= len(outbound.Schedule); i++ {
		waitFor(t, fmt.Sprintf("attempt %d", i+1), func() bool { return len(rc.Hits()) == i+1 })
		h := rc.Hits()[i]
		if h.ID != ds[0].ID {
			t.Fatalf("attempt %d has webhook-id %q, want the same %q", i+1, h.ID, ds[0].ID)
		}
		// The signature is made at the attempt's (injected) time.
		if got, want := h.Header.Get("webhook-timestamp"), strconv.FormatInt(start.Add(elapsed).Unix(), 10); got != want {
			t.Errorf("attempt %d webhook-timestamp %s, want %s", i+1, got, want)
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.VerifyIgnoringTimestamp(h.Body, h.Header); err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		waitFor(t, "the attempt record", func() bool {
			_, n, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
			return n == int64(i+1)
		})
		as, _, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
		if i == len(outbound.Schedule) {
			if as[0].Outcome != "failed" || as[0].NextAttempt != nil {
				t.Fatalf("last attempt %+v, want failed with no next attempt", as[0])
			}
			break
		}
		wait := outbound.Schedule[i] * 11 / 10
		if as[0].Outcome != "retry" || as[0].NextAttempt == nil || !as[0].NextAttempt.Equal(clk.Now().Add(wait)) {
			t.Fatalf("attempt %d: %+v, want a retry at +%v", i+1, as[0], wait)
		}
		// Just before the retry is due nothing happens...
		clk.Advance(wait - time.Second)
		time.Sleep(50 * time.Millisecond)
		if n := len(rc.Hits()); n != i+1 {
			t.Fatalf("retry %d came %v early", i+1, time.Second)
		}
		// ...and at the due time it comes.
		clk.Advance(time.Second)
		elapsed += wait
	}
	d, err := sender.queue.Delivery(ctx, "pt_a", ds[0].ID)
	if err != nil || d.State != StateFailed || d.Attempts != len(outbound.Schedule)+1 {
		t.Fatalf("delivery %+v, %v; want failed after %d attempts", d, err, len(outbound.Schedule)+1)
	}
	clk.Advance(48 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	if n := len(rc.Hits()); n != len(outbound.Schedule)+1 {
		t.Fatalf("%d attempts after giving up", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "600")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	dir := newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"})
	clk := &clock{t: time.Now()}
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	_, _ = sender.secrets.Create(ctx, "pt_a")
	enqueue(t, sender.queue, "pt_a", 1, clk.Now())
	startSender(t, sender)
	waitFor(t, "the attempt record", func() bool {
		_, n, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
		return n == 1
	})
	as, _, _ := sender.queue.Attempts(ctx, "pt_a", 0, 1)
	if as[0].Status != 429 || as[0].NextAttempt == nil || !as[0].NextAttempt.Equal(clk.Now().Add(10*time.Minute)) {
		t.Fatalf("attempt %+v, want the next one at Retry-After, +10m", as[0])
	}
	if as[0].Response != "slow down\n" {
		t.Errorf("response %q", as[0].Response)
	}
}

func TestHangingPartnerDoesNotDelayOthers(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	release := make(chan struct{})
	var mu sync.Mutex
	inflight, most, done := 0, 0, 0
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inflight--
		done++
		mu.Unlock()
	})
	fast := newReceiver(t, nil)
	dir := newDirectory(
		Target{ID: "pt_slow", URL: slow.URL, State: "active"},
		Target{ID: "pt_fast", URL: fast.URL, State: "active"})
	sender := newTestSender(rdb, dir, Options{Workers: 8, PerPartner: 2, Timeout: time.Minute})
	_, _ = sender.secrets.Create(ctx, "pt_slow")
	_, _ = sender.secrets.Create(ctx, "pt_fast")
	// The slow partner's deliveries are older: first in the queue.
	enqueue(t, sender.queue, "pt_slow", 50, time.Now().Add(-time.Second))
	enqueue(t, sender.queue, "pt_fast", 50, time.Now())
	startSender(t, sender)
	defer close(release)

	waitFor(t, "every delivery to the healthy partner", func() bool { return len(fast.Hits()) == 50 })
	mu.Lock()
	defer mu.Unlock()
	if done != 0 {
		t.Fatalf("%d requests to the hanging partner finished first; the healthy one waited for them", done)
	}
	if most > 2 {
		t.Fatalf("%d requests in flight to one partner; the limit is 2", most)
	}
}

// TestCrashLosesNothing kills a sender with deliveries claimed and in
// flight (its Redis connection cut, its context cancelled, so it records
// nothing) and starts another: every delivery arrives, with the same
// webhook-id as before.
func TestCrashLosesNothing(t *testing.T) {
	srv, _ := redistest.Start(t)
	ctx := context.Background()
	var mu sync.Mutex
	hang := true
	release := make(chan struct{})
	ok := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hang
		mu.Unlock()
		if h {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			http.Error(w, "too late", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		ok[r.Header.Get("webhook-id")]++
		mu.Unlock()
	})
	dir := newDirectory(
		Target{ID: "pt_a", URL: rc.URL, State: "active"},
		Target{ID: "pt_b", URL: rc.URL, State: "active"})

	rdbA := redis.NewClient(&redis.Options{Addr: srv.Addr})
	a := newTestSender(rdbA, dir, Options{Workers: 4, PerPartner: 2, Timeout: time.Second, Lease: 2 * time.Second})
	_, _ = a.secrets.Create(ctx, "pt_a")
	_, _ = a.secrets.Create(ctx, "pt_b")
	var want []Delivery
	want = append(want, enqueue(t, a.queue, "pt_a", 30, time.Now())...)
	want = append(want, enqueue(t, a.queue, "pt_b", 30, time.Now())...)
	stopA := startSender(t, a)
	waitFor(t, "the first sender to have requests in flight", func() bool { return len(rc.Hits()) >= 4 })
	// Crash: the connection goes first, so nothing of A's is recorded.
	_ = rdbA.Close()
	stopped := make(chan struct{})
	go func() { stopA(); close(stopped) }()
	mu.Lock()
	hang = false
	mu.Unlock()
	close(release)
	<-stopped

	rdbB := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdbB.Close() })
	b := newTestSender(rdbB, dir, Options{Timeout: time.Second, Lease: 2 * time.Second})
	startSender(t, b)
	waitFor(t, "every delivery after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ok) == len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	for _, d := range want {
		if ok[d.ID] == 0 {
			t.Errorf("delivery %s lost", d.ID)
		}
	}
	// Every request, before and after the crash, carried one of the ids.
	ids := map[string]bool{}
	for _, d := range want {
		ids[d.ID] = true
	}
	for _, h := range rc.Hits() {
		if !ids[h.ID] {
			t.Errorf("unexpected webhook-id %q", h.ID)
		}
	}
}

// TestRefusedAtSend: a name that resolves to a refused address, and plain
// http to a host not allowed it, fail at the first attempt, are not
// retried, and disable their partner with the reason.
func TestRefusedAtSend(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	_, port, _ := strings.Cut(rc.URL[len("http://"):], ":")
	dir := newDirectory(
		// A name resolving to 127.0.0.1, over https, not allow-listed.
		Target{ID: "pt_name", URL: "https://localhost:" + port + "/", State: "active"},
		// Plain http to a host that is not allow-listed.
		Target{ID: "pt_http", URL: "http://partner.example/", State: "active"})
	sender := NewSender(rdb, dir, NewSecrets(rdb), Options{Poll: 10 * time.Millisecond, Logger: quiet()})
	_, _ = sender.secrets.Create(ctx, "pt_name")
	_, _ = sender.secrets.Create(ctx, "pt_http")
	enqueue(t, sender.queue, "pt_name", 1, time.Now())
	enqueue(t, sender.queue, "pt_http", 1, time.Now())
	startSender(t, sender)
	for _, tt := range []struct {
		partner string
		want    string
	}{
		{"pt_name", "address not allowed: a loopback address"},
		{"pt_http", outbound.ErrInsecureURL.Error()},
	} {
		waitFor(t, "the attempt of "+tt.partner, func() bool {
			_, n, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
			return n == 1
		})
		as, _, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
		if !strings.Contains(as[0].Error, tt.want) || !strings.HasPrefix(as[0].Error, "address not allowed") ||
			as[0].Outcome != "failed" || as[0].NextAttempt != nil {
			t.Errorf("%s: attempt %+v, want it failed at once, not retried, for %q", tt.partner, as[0], tt.want)
		}
		if r := dir.reason(tt.partner); !strings.Contains(r, tt.want) {
			t.Errorf("%s: disabled with reason %q, want %q", tt.partner, r, tt.want)
		}
	}
	if n := len(rc.Hits()); n != 0 {
		t.Fatalf("the refused address got %d requests", n)
	}
}
