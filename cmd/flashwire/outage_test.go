package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire/internal/redistest"
)

// publishResult is one POST /api/v1/alerts of the publish loop.
type publishResult struct {
	status     int
	id         string
	retryAfter string
	body       string
	// afterRestart: the request began after Redis answered again.
	afterRestart bool
}

// TestRedisRestartUnderPublish publishes alerts in a loop through the
// real binary, with an editor token Redis must look up, while a reader
// listens on a WebSocket, and kills and restarts Redis (append-only on)
// in the middle: every request while Redis is down gets 503 with
// Retry-After and the store named, none once the service has reconnected,
// never a 500;
// every acknowledged alert is in the log afterwards and reaches the
// reader exactly once, over a connection that stayed up.
func TestRedisRestartUnderPublish(t *testing.T) {
	srv, rdb := redistest.StartWith(t, redistest.Options{AppendOnly: true, Password: "pw-" + randomPassword()})
	bin := buildBinary(t)
	admin := "admin-" + randomPassword()
	_, addr, out := startBinary(t, bin, "FLASHWIRE_REDIS_URL="+srv.URL(), "FLASHWIRE_ADMIN_TOKEN="+admin)
	var tok struct {
		Token string `json:"token"`
	}
	apiCall(t, addr, admin, "POST", "/api/v1/tokens", map[string]any{"name": "night desk", "role": "editor"}, &tok)
	noteSecret(tok.Token)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var mu sync.Mutex
	seen := map[string]int{} // alert id -> frames received
	readerDone := make(chan error, 1)
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readerDone <- err
				return
			}
			var f struct {
				Type  string `json:"type"`
				Alert struct {
					ID string `json:"id"`
				} `json:"alert"`
			}
			if json.Unmarshal(data, &f) == nil && f.Type == "alert" {
				mu.Lock()
				seen[f.Alert.ID]++
				mu.Unlock()
			}
		}
	}()

	var (
		resMu     sync.Mutex
		results   []publishResult
		restarted bool
	)
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		client := &http.Client{Timeout: 20 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			resMu.Lock()
			after := restarted
			resMu.Unlock()
			body := fmt.Sprintf(`{"headline":"Outage test alert %d","url":"https://news.example/outage/%d","topics":["world"],"priority":"flash"}`, i, i)
			req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/alerts", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := client.Do(req)
			if err != nil {
				resMu.Lock()
				results = append(results, publishResult{status: -1, body: err.Error(), afterRestart: after})
				resMu.Unlock()
				continue
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var a struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &a)
			resMu.Lock()
			results = append(results, publishResult{status: resp.StatusCode, id: a.ID, retryAfter: resp.Header.Get("Retry-After"), body: string(raw), afterRestart: after})
			resMu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	count := func(status int) int {
		resMu.Lock()
		defer resMu.Unlock()
		n := 0
		for _, r := range results {
			if r.status == status {
				n++
			}
		}
		return n
	}
	waitFor(t, 30*time.Second, "publishes before the outage", func() bool { return count(201) >= 10 })
	srv.Stop()
	okBefore := count(201)
	waitFor(t, 30*time.Second, "refusals while Redis is down", func() bool { return count(503) >= 5 })
	srv.Restart(t)
	resMu.Lock()
	restarted = true
	resMu.Unlock()
	waitFor(t, 30*time.Second, "publishes after the restart", func() bool { return count(201) >= okBefore+10 })
	close(stop)
	<-loopDone

	// Once Redis answers again, the service reconnects (go-redis's pool
	// retries dialling each second after a run of failures): from its
	// first publish after the restart on, nothing is refused.
	acked := map[string]bool{}
	var down, up int
	reconnected := false
	for _, r := range results {
		switch {
		case r.status == 201:
			acked[r.id] = true
			if r.afterRestart {
				up++
				reconnected = true
			}
		case r.status == 503 && !reconnected:
			down++
			if r.retryAfter == "" || !strings.Contains(r.body, "the data store is unavailable") {
				t.Errorf("a 503 without Retry-After or the store named: %q %s", r.retryAfter, r.body)
			}
		default:
			t.Errorf("publish answered %d (after reconnecting: %v): %s", r.status, reconnected, r.body)
		}
	}
	t.Logf("%d publishes: %d acknowledged, %d refused with 503 until the service reconnected, %d acknowledged after the restart", len(results), len(acked), down, up)

	// Every acknowledged alert is in the log...
	ids, err := rdb.XRange(t.Context(), "flashwire:v1:{alerts}:log", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	inLog := map[string]bool{}
	for _, m := range ids {
		inLog[m.ID] = true
	}
	for id := range acked {
		if !inLog[id] {
			t.Errorf("acknowledged alert %s is not in the log after the restart", id)
		}
	}
	// ...and reached the reader, whose connection stayed up, once.
	waitFor(t, 30*time.Second, "the reader to get every acknowledged alert", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range acked {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
	select {
	case err := <-readerDone:
		t.Fatalf("the reader's connection ended: %v", err)
	default:
	}
	mu.Lock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("alert %s reached the reader %d times", id, n)
		}
	}
	mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) && !strings.HasPrefix(line, "Flashwire is running") && !strings.HasPrefix(line, "  ") {
			t.Errorf("a line that is not a JSON log line: %q", line)
		}
	}
}
