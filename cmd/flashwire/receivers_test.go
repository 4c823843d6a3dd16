package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire/internal/redistest"
	"flashwire/notifier/webhook"
)

// receiverExample is one of the webhook receivers under docs/examples.
type receiverExample struct {
	name string
	// start runs the receiver on addr with secret and returns its output.
	start func(tb testing.TB, addr, secret string) *lockedBuffer
}

// TestReceiverExamples points a partner at each receiver example, sends it
// real deliveries from the real binary, and checks from the receiver's own
// output that it verified and accepted each, dropped a replay as a
// duplicate, and rejected a tampered message and a forged one.
func TestReceiverExamples(t *testing.T) {
	srv, _ := redistest.Start(t)
	bin := buildBinary(t)
	const token = "a-long-bootstrap-token-for-tests"
	_, addr, _ := startBinary(t, bin, "FLASHWIRE_REDIS_URL="+srv.URL(), "FLASHWIRE_ADMIN_TOKEN="+token, "FLASHWIRE_WEBHOOK_ALLOW=127.0.0.1")

	for _, ex := range []receiverExample{
		{"go", startGoReceiver},
		{"node", startNodeReceiver},
	} {
		t.Run(ex.name, func(t *testing.T) {
			hook := freeAddr(t)
			var partner struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			}
			apiCall(t, addr, token, "POST", "/api/v1/partners", map[string]any{
				"name": "Receiver " + ex.name, "url": "http://" + hook + "/flashwire", "topics": []string{"sport"},
			}, &partner)
			out := ex.start(t, hook, partner.Secret)

			var alert struct {
				ID string `json:"id"`
			}
			apiCall(t, addr, token, "POST", "/api/v1/alerts", map[string]any{
				"headline": "Receiver example alert for " + ex.name, "url": "https://news.example/receivers/" + ex.name,
				"topics": []string{"sport"}, "priority": "urgent",
			}, &alert)
			apiCall(t, addr, token, "POST", "/api/v1/partners/"+partner.ID+"/test", nil, &struct{}{})

			delivery := webhook.DeliveryID(alert.ID, partner.ID)
			published := "accepted " + delivery + " alert.published " + alert.ID
			waitFor(t, 15*time.Second, "the receiver to accept the alert and the ping", func() bool {
				return out.hasLine(published) && out.hasLinePrefix("accepted msg_ping_", " ping -")
			})
			// Flashwire saw 2xx answers: both deliveries are delivered.
			var log struct {
				Attempts []struct {
					DeliveryID string `json:"delivery_id"`
					Outcome    string `json:"outcome"`
					Status     int    `json:"status"`
				} `json:"attempts"`
			}
			waitFor(t, 10*time.Second, "the delivery log to show both delivered", func() bool {
				apiCall(t, addr, token, "GET", "/api/v1/partners/"+partner.ID+"/deliveries", nil, &log)
				delivered := 0
				for _, d := range log.Attempts {
					if d.Outcome == "delivered" && d.Status == http.StatusNoContent {
						delivered++
					}
				}
				return delivered == 2
			})

			// A replay keeps its webhook-id: the receiver drops it.
			apiCall(t, addr, token, "POST", "/api/v1/partners/"+partner.ID+"/deliveries/"+delivery+"/replay", nil, &struct{}{})
			waitFor(t, 15*time.Second, "the receiver to drop the replay", func() bool { return out.hasLine("duplicate " + delivery) })

			// Signed as Flashwire signs, then changed on the way.
			body := []byte(`{"type":"alert.published","timestamp":"2026-11-26T19:40:00Z","data":{"id":"1-0","headline":"Real"}}`)
			now := time.Now()
			sig, err := webhook.Sign("msg_tampered", now, body, partner.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if status := postSigned(t, hook, "msg_tampered", now, bytes.Replace(body, []byte("Real"), []byte("Fake"), 1), sig); status != http.StatusUnauthorized {
				t.Errorf("tampered body answered %d, want 401", status)
			}
			// Signed with another secret.
			forged, _ := webhook.Sign("msg_forged", now, body, webhook.NewSecret())
			if status := postSigned(t, hook, "msg_forged", now, body, forged); status != http.StatusUnauthorized {
				t.Errorf("forged signature answered %d, want 401", status)
			}
			waitFor(t, 5*time.Second, "the receiver to print both rejections", func() bool { return out.count("rejected ") == 2 })
			if out.hasLinePrefix("accepted msg_tampered", "") || out.hasLinePrefix("accepted msg_forged", "") {
				t.Errorf("receiver accepted a bad message:\n%s", out.String())
			}
		})
	}
}

// postSigned sends body to the receiver at hook with Standard Webhooks
// headers and returns the status.
func postSigned(tb testing.TB, hook, id string, ts time.Time, body []byte, sig string) int {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+hook+"/flashwire", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func startGoReceiver(tb testing.TB, addr, secret string) *lockedBuffer {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "receiver-go")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(repoRoot, "docs/examples/receiver-go")).CombinedOutput(); err != nil {
		tb.Fatalf("build the Go receiver: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Env = append(os.Environ(), "FLASHWIRE_SECRET="+secret)
	return startReceiver(tb, cmd, addr)
}

func startNodeReceiver(tb testing.TB, addr, secret string) *lockedBuffer {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		redistest.Missing(tb, "node (apt-get install nodejs, or run make test)")
	}
	dir := filepath.Join(repoRoot, "docs/examples/receiver-node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		redistest.Missing(tb, "the Node.js receiver's packages (npm ci --prefix docs/examples/receiver-node, or run make test)")
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(node, "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FLASHWIRE_SECRET="+secret, "HOST="+host, "PORT="+port)
	return startReceiver(tb, cmd, addr)
}

// startReceiver runs cmd until tb ends and waits until addr accepts
// connections.
func startReceiver(tb testing.TB, cmd *exec.Cmd, addr string) *lockedBuffer {
	tb.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("receiver output:\n%s", out.String())
		}
	})
	waitFor(tb, 10*time.Second, "the receiver to listen on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return out
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) lines() []string { return strings.Split(b.String(), "\n") }

// hasLine reports whether the output has exactly this line.
func (b *lockedBuffer) hasLine(line string) bool {
	return slices.Contains(b.lines(), line)
}

// hasLinePrefix reports whether a line starts with prefix and ends with
// suffix.
func (b *lockedBuffer) hasLinePrefix(prefix, suffix string) bool {
	for _, l := range b.lines() {
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

// count returns how many lines start with prefix.
func (b *lockedBuffer) count(prefix string) int {
	n := 0
	for _, l := range b.lines() {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}
