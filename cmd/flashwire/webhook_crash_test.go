package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"flashwire/internal/redistest"
	"flashwire/notifier/webhook"
)

// slowReceiver is a partner endpoint that answers its first few requests
// after a moment and then holds every request until released, so a sender
// has deliveries in flight and more waiting at a moment the test chooses.
// It records every request, and which ones it answered and which the
// sender cut off.
type slowReceiver struct {
	*httptest.Server
	delay   time.Duration
	first   int           // requests answered before holding starts
	release chan struct{} // closed: answer every request after delay

	mu sync.Mutex
	// hits, answered, cut and inflight are guarded by mu.
	hits     []slowHit
	answered map[string]int // webhook-id -> 2xx answers given
	cut      map[string]int // webhook-id -> requests whose sender went away
	inflight int
}

type slowHit struct {
	id     string
	header http.Header
	body   []byte
}

func newSlowReceiver(tb testing.TB, delay time.Duration, first int) *slowReceiver {
	tb.Helper()
	rc := &slowReceiver{delay: delay, first: first, release: make(chan struct{}),
		answered: map[string]int{}, cut: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *slowReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	hold := len(rc.hits) >= rc.first
	rc.hits = append(rc.hits, slowHit{id: id, header: r.Header.Clone(), body: body})
	rc.inflight++
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight--
		rc.mu.Unlock()
	}()
	if hold {
		select {
		case <-rc.release:
		case <-r.Context().Done():
		}
	}
	t := time.NewTimer(rc.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		// The sending process died mid-request: it never saw an answer.
		rc.mu.Lock()
		rc.cut[id]++
		rc.mu.Unlock()
		return
	}
	rc.mu.Lock()
	rc.answered[id]++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// state returns copies of what the receiver saw.
func (rc *slowReceiver) state() (hits []slowHit, answered, cut map[string]int, inflight int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	answered, cut = map[string]int{}, map[string]int{}
	for k, v := range rc.answered {
		answered[k] = v
	}
	for k, v := range rc.cut {
		cut[k] = v
	}
	return append([]slowHit(nil), rc.hits...), answered, cut, rc.inflight
}

// apiCall sends a JSON request to the binary's API as token and decodes a
// 2xx answer into out.
func apiCall(tb testing.TB, addr, token, method, path string, in, out any) {
	tb.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		tb.Fatalf("%s %s: decode %s: %v", method, path, data, err)
	}
}

// TestWebhookCrashLosesNothing runs the real binary, SIGKILLs it while
// webhook deliveries to a slow partner are in flight and queued, and starts
// another process on the same Redis: every alert reaches the partner, each
// with one webhook-id on every attempt and a valid signature, and the
// deliveries the killed process had in flight are sent again, their cut
// tries in the delivery log as interrupted attempts.
func TestWebhookCrashLosesNothing(t *testing.T) {
	const alerts = 30
	srv, rdb := redistest.Start(t)
	bin := buildBinary(t)
	rc := newSlowReceiver(t, 50*time.Millisecond, 5)
	const token = "a-long-bootstrap-token-for-tests"
	env := []string{
		"FLASHWIRE_REDIS_URL=" + srv.URL(),
		"FLASHWIRE_ADMIN_TOKEN=" + token,
		"FLASHWIRE_WEBHOOK_ALLOW=127.0.0.1",
		"FLASHWIRE_WEBHOOK_TIMEOUT=2s",
		// Deliveries the killed process had claimed come due 3 s after
		// the claim (held requests are cut by the kill well within the
		// 2 s timeout), and the restarted process, under the same name,
		// resumes the alert events it had been handed at once.
		"FLASHWIRE_WEBHOOK_LEASE=3s",
		"FLASHWIRE_INSTANCE_ID=crash-test",
	}
	first, addr, firstOut := startBinary(t, bin, env...)

	var partner struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	apiCall(t, addr, token, "POST", "/api/v1/partners", map[string]any{
		"name": "Slow partner", "url": rc.URL + "/hook", "topics": []string{"world"},
	}, &partner)
	if partner.ID == "" || !strings.HasPrefix(partner.Secret, "whsec_") {
		t.Fatalf("partner %+v lacks an id or a secret", partner)
	}
	want := map[string]string{} // alert id -> its webhook-id
	for i := range alerts {
		var a struct {
			ID string `json:"id"`
		}
		apiCall(t, addr, token, "POST", "/api/v1/alerts", map[string]any{
			"headline": fmt.Sprintf("Crash test alert %d", i), "url": fmt.Sprintf("https://news.example/crash/%d", i),
			"topics": []string{"world"}, "language": "en", "priority": "flash",
		}, &a)
		want[a.ID] = webhook.DeliveryID(a.ID, partner.ID)
	}

	// Kill mid-queue: five answered, some in flight, the rest waiting.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, answered, _, inflight := rc.state()
		if len(answered) >= 5 && inflight > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deliveries in flight within 20s (answered %d)\n%s", len(answered), firstOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	_, answeredAtKill, _, _ := rc.state()
	close(rc.release)

	_, addr, _ = startBinary(t, bin, env...)
	q := webhook.NewQueue(rdb)
	ctx := context.Background()
	deadline = time.Now().Add(25 * time.Second)
	for {
		_, answered, _, _ := rc.state()
		delivered := 0
		for _, id := range want {
			if d, err := q.Delivery(ctx, partner.ID, id); err == nil && d.State == webhook.StateDelivered && answered[id] > 0 {
				delivered++
			}
		}
		if delivered == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts delivered 25s after the restart", delivered, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}

	hits, answered, cut, _ := rc.state()
	wh, err := standardwebhooks.NewWebhook(partner.Secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		var msg struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(h.body, &msg); err != nil {
			t.Fatalf("body %s: %v", h.body, err)
		}
		id, ok := want[msg.Data.ID]
		if !ok || msg.Type != "alert.published" {
			t.Errorf("unexpected %s for alert %q", msg.Type, msg.Data.ID)
			continue
		}
		if h.id != id {
			t.Errorf("alert %s came with webhook-id %q, want %q on every attempt", msg.Data.ID, h.id, id)
		}
		if err := wh.Verify(h.body, h.header); err != nil {
			t.Errorf("delivery %s does not verify: %v", h.id, err)
		}
	}
	// The deliveries in flight at the kill were cut off and sent again:
	// the takeover, not only the queue's untouched part, is exercised.
	resent := 0
	for id, n := range cut {
		if answered[id] == 0 {
			t.Errorf("delivery %s was cut off by the kill and never sent again", id)
		}
		resent += n
	}
	if resent == 0 {
		t.Error("no delivery was in flight at the kill; the test did not crash mid-request")
	}
	// The delivery log shows each cut try as interrupted, and the re-send
	// as the next attempt of the same delivery.
	var deliveryLog struct {
		Attempts []webhook.Attempt `json:"attempts"`
	}
	apiCall(t, addr, token, "GET", "/api/v1/partners/"+partner.ID+"/deliveries?limit=200", nil, &deliveryLog)
	interrupted, delivered := map[string]int{}, map[string]int{} // delivery -> attempt number
	for _, a := range deliveryLog.Attempts {
		switch a.Outcome {
		case "interrupted":
			interrupted[a.DeliveryID] = a.Attempt
		case "delivered":
			delivered[a.DeliveryID] = a.Attempt
		}
	}
	for id := range cut {
		n, ok := interrupted[id]
		if !ok {
			t.Errorf("delivery %s was cut off by the kill, and the log has no interrupted attempt of it", id)
			continue
		}
		if delivered[id] != n+1 {
			t.Errorf("delivery %s: interrupted as attempt %d, delivered as attempt %d; want the next", id, n, delivered[id])
		}
	}
	t.Logf("%d alerts: %d answered before the kill, %d requests cut off by it, %d requests in all",
		len(want), len(answeredAtKill), resent, len(hits))
}

func TestConsumerName(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name, instanceID, want string
	}{
		// A configured name is kept, so a restart resumes its own events.
		{"OK configured", "web-1", "web-1"},
		// Unset: host and process id, new at every start.
		{"OK default", "", fmt.Sprintf("%s-%d", host, os.Getpid())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := consumerName(tt.instanceID); got != tt.want {
				t.Errorf("consumerName(%q) = %q, want %q", tt.instanceID, got, tt.want)
			}
		})
	}
}
