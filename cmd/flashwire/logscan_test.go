package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

// The log scan: every process a test of this package starts keeps its log
// lines (stderr; see startBinary), and tests note the secrets they hand
// out or learn. Once every test has run, TestMain fails the run if any log
// line holds a secret, a token (fw_) or a partner signing secret (whsec_).
var scan struct {
	mu      sync.Mutex
	logs    map[string]*output // test name -> its processes' log lines
	secrets []string
}

// keepLogs returns where a process started by test name writes its logs.
func keepLogs(name string) *output {
	scan.mu.Lock()
	defer scan.mu.Unlock()
	if scan.logs == nil {
		scan.logs = map[string]*output{}
	}
	o := scan.logs[name]
	if o == nil {
		o = &output{}
		scan.logs[name] = o
	}
	return o
}

// noteSecret adds s to what no log line may hold.
func noteSecret(s string) {
	scan.mu.Lock()
	defer scan.mu.Unlock()
	scan.secrets = append(scan.secrets, s)
}

// leaks returns, for each test, what its processes logged that they must
// not have: the noted secrets and anything shaped like a token or a
// signing secret.
func leaks() []string {
	scan.mu.Lock()
	defer scan.mu.Unlock()
	var out []string
	for name, o := range scan.logs {
		for _, line := range strings.Split(o.String(), "\n") {
			for _, s := range append([]string{"fw_", "whsec_"}, scan.secrets...) {
				if s != "" && strings.Contains(line, s) {
					out = append(out, fmt.Sprintf("%s logged %q: %s", name, s, line))
				}
			}
		}
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if found := leaks(); len(found) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: secrets in the logs of the processes tests started:")
		for _, l := range found {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		code = 1
	}
	os.Exit(code)
}

// TestLogsHoldNoSecrets runs the binary at debug level through what an
// installation does in its first hour, with every kind of secret in play:
// a bootstrap admin token, a Redis password, API tokens, a console
// session, a partner's signing secrets (issued and rotated), wrong tokens,
// a delivery and a shutdown. None of them may appear in its logs.
func TestLogsHoldNoSecrets(t *testing.T) {
	srv, _ := redistest.StartWith(t, redistest.Options{Password: "redis-pw-" + randomPassword()})
	bin := buildBinary(t)
	admin := "admin-" + randomPassword()
	cmd, addr, out := startBinary(t, bin,
		"FLASHWIRE_REDIS_URL="+srv.URL(), "FLASHWIRE_ADMIN_TOKEN="+admin,
		"FLASHWIRE_LOG_LEVEL=debug", "FLASHWIRE_WEBHOOK_ALLOW=127.0.0.1")
	delivered := make(chan struct{}, 10)
	partnerSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered <- struct{}{}
	}))
	defer partnerSite.Close()

	var tok struct {
		Token string `json:"token"`
	}
	apiCall(t, addr, admin, "POST", "/api/v1/tokens", map[string]any{"name": "night desk", "role": "editor"}, &tok)
	noteSecret(tok.Token)
	var partner struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	apiCall(t, addr, admin, "POST", "/api/v1/partners", map[string]any{"name": "Daily Planet", "url": partnerSite.URL + "/hook", "topics": []string{"world"}}, &partner)
	noteSecret(partner.Secret)
	var rotated struct {
		Secret string `json:"secret"`
	}
	apiCall(t, addr, admin, "POST", "/api/v1/partners/"+partner.ID+"/secret/rotate", map[string]any{"keep_previous_for": "1h"}, &rotated)
	noteSecret(rotated.Secret)

	// The console: sign in, and a change with the session's CSRF token.
	jar, _ := cookiejar.New(nil)
	console := &http.Client{Jar: jar}
	resp, err := console.Post("http://"+addr+"/editor/session", "application/json", strings.NewReader(`{"token":"`+tok.Token+`"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("sign in: %v %v", err, resp)
	}
	var sess struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	noteSecret(sess.CSRF)
	for _, c := range resp.Cookies() {
		noteSecret(c.Value)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/alerts", strings.NewReader(
		`{"headline":"Quake hits the coast","url":"https://news.example/quake","topics":["world"],"priority":"flash"}`))
	req.Header.Set("X-CSRF-Token", sess.CSRF)
	if resp, err := console.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("publish from the console: %v %v", err, resp)
	}
	select {
	case <-delivered:
	case <-time.After(20 * time.Second):
		t.Fatal("the partner got no webhook")
	}

	// Wrong tokens: mistyped real ones are secrets too.
	for _, wrong := range []string{tok.Token + "x", admin[:len(admin)-1], "whsec_" + partner.ID} {
		noteSecret(wrong)
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/alerts", nil)
		req.Header.Set("Authorization", "Bearer "+wrong)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		resp, err := http.Post("http://"+addr+"/editor/session", "application/json", strings.NewReader(`{"token":"`+wrong+`"}`))
		if err == nil {
			resp.Body.Close()
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "shutdown complete") {
		t.Fatalf("no clean shutdown:\n%s", out.String())
	}
	for _, l := range leaks() {
		if strings.HasPrefix(l, t.Name()+" ") {
			t.Error(l)
		}
	}
}
