package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire/internal/redistest"
)

// nginxConf is the configuration the deployment documents and compose.yaml
// mounts; the test runs that very file.
const nginxConf = "../../docs/deploy/nginx.conf"

// startNginx runs the real nginx in the foreground with docs/deploy/nginx.conf,
// its upstreams replaced by upstreams and its listener by a loopback port,
// and returns that address. Its prefix, logs and temporary files live in a
// temporary directory; it is stopped when tb ends.
func startNginx(tb testing.TB, upstreams []string) (string, *bytes.Buffer) {
	tb.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/nginx"); statErr != nil {
			redistest.Missing(tb, "nginx (apt-get install nginx, or run make test)")
		}
		bin = "/usr/sbin/nginx"
	}
	conf, err := os.ReadFile(nginxConf)
	if err != nil {
		tb.Fatal(err)
	}
	text := string(conf)
	for i, addr := range upstreams {
		name := fmt.Sprintf("server flashwire-%d:8080 ", i+1)
		if !strings.Contains(text, name) {
			tb.Fatalf("%s has no upstream %q", nginxConf, name)
		}
		text = strings.Replace(text, name, "server "+addr+" ", 1)
	}
	addr := freeAddr(tb)
	if !strings.Contains(text, "listen 80;") {
		tb.Fatalf("%s does not listen on port 80", nginxConf)
	}
	text = strings.Replace(text, "listen 80;", "listen "+addr+";", 1)
	dir := tb.TempDir()
	// Temporary files under the prefix, not in /var/lib/nginx.
	var temps strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "    %s_temp_path %s;\n", kind, filepath.Join(dir, kind))
	}
	text = strings.Replace(text, "http {\n", "http {\n"+temps.String(), 1)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	global := "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"
	if os.Geteuid() == 0 {
		// Workers would otherwise run as nobody, who cannot enter dir.
		global += " user root;"
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-e", "stderr", "-g", global)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, &out
			}
		}
		select {
		case <-exited:
			tb.Fatalf("nginx exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nginx not answering within 10s: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNginxConfig reads docs/deploy/nginx.conf for what the test behind it
// cannot see in a few seconds: timeouts above the 25 s ping interval and
// no buffering of SSE.
func TestNginxConfig(t *testing.T) {
	conf, err := os.ReadFile(nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"/ws", "/events"} {
		block := regexp.MustCompile(`location = ` + regexp.QuoteMeta(loc) + ` \{([^}]*)\}`).FindSubmatch(conf)
		if block == nil {
			t.Fatalf("no location = %s", loc)
		}
		m := regexp.MustCompile(`proxy_read_timeout (\d+)s;`).FindSubmatch(block[1])
		if m == nil {
			t.Errorf("location %s sets no proxy_read_timeout", loc)
		} else if d, _ := time.ParseDuration(string(m[1]) + "s"); d <= pingPeriodForProxies {
			t.Errorf("location %s: proxy_read_timeout %s is not above the %s ping interval", loc, d, pingPeriodForProxies)
		}
		if loc == "/events" && !bytes.Contains(block[1], []byte("proxy_buffering off;")) {
			t.Error("location /events buffers SSE")
		}
	}
}

// pingPeriodForProxies is how often Flashwire writes to an idle live
// connection (web's pingPeriod), as docs/protocol.md promises.
const pingPeriodForProxies = 25 * time.Second

// TestBehindNginx runs three instances of the real binary on one real
// Redis behind the real nginx with docs/deploy/nginx.conf, and proves
// through nginx that per-address limits count each reader's own address,
// and that WebSocket and SSE readers get every alert once, in order, when
// the instance each is on is killed and they reconnect to another.
func TestBehindNginx(t *testing.T) {
	srv, _ := redistest.Start(t)
	bin := buildBinary(t)
	const token = "a-long-bootstrap-token-for-tests"
	const perIP = 2
	env := []string{
		"FLASHWIRE_REDIS_URL=" + srv.URL(),
		"FLASHWIRE_ADMIN_TOKEN=" + token,
		"FLASHWIRE_TRUSTED_PROXIES=127.0.0.1/32",
		fmt.Sprintf("FLASHWIRE_MAX_CONNECTIONS_PER_IP=%d", perIP),
	}
	var instances []*instance
	for range 3 {
		cmd, addr, out := startBinary(t, bin, env...)
		instances = append(instances, &instance{cmd: cmd, addr: addr, out: out})
	}
	proxy, proxyOut := startNginx(t, []string{instances[0].addr, instances[1].addr, instances[2].addr})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nginx:\n%s", proxyOut.String())
		}
	})

	t.Run("metrics not public", func(t *testing.T) {
		resp, err := http.Get("http://" + proxy + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /metrics through nginx = %d, want 403", resp.StatusCode)
		}
	})

	t.Run("per-address limits see the reader", func(t *testing.T) {
		// Reader A opens WebSockets until an instance refuses it: each of
		// the three lets it hold perIP.
		var open []*websocket.Conn
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		refused := false
		for range 3*perIP + 1 {
			c, status, err := dialWS(proxy, "127.0.0.2", "", nil)
			if err == nil {
				open = append(open, c)
				continue
			}
			if status != http.StatusTooManyRequests {
				t.Fatalf("reader A: %d %v", status, err)
			}
			refused = true
			break
		}
		// least_conn spreads A's connections evenly, so A is refused only
		// once every instance holds perIP of them.
		if !refused || len(open) != 3*perIP {
			t.Fatalf("reader A opened %d connections, then refused: %v; want %d, then 429", len(open), refused, 3*perIP)
		}
		// Forging X-Forwarded-For does not help A: nginx appends the
		// address it saw and Flashwire reads from the right.
		if c, status, err := dialWS(proxy, "127.0.0.2", "", http.Header{"X-Forwarded-For": {"192.0.2.7"}}); err == nil {
			open = append(open, c)
			t.Fatal("reader A got past its limit by sending X-Forwarded-For")
		} else if status != http.StatusTooManyRequests {
			t.Fatalf("reader A with a forged X-Forwarded-For: %d %v, want 429", status, err)
		}
		// Reader B, another address behind the same nginx, is not A.
		c, status, err := dialWS(proxy, "127.0.0.3", "", nil)
		if err != nil {
			t.Fatalf("reader B refused (%d %v) while A is at its limit: the limit counts nginx, not readers", status, err)
		}
		open = append(open, c)
		t.Logf("reader A: %d connections, then 429; reader B connected", len(open)-1)
	})
	// The limit test's connections leave before the readers come, so the
	// live connection gauges tell which instance each reader is on.
	for _, in := range instances {
		waitFor(t, 10*time.Second, "instance "+in.addr+" to drop the limit test's connections", func() bool {
			return metricValue(t, in.addr, `flashwire_live_connections{transport="websocket"}`) <= 0
		})
	}

	t.Run("readers resume on another instance", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		readers := map[string]*liveReader{
			"websocket": newLiveReader(ctx, "websocket", wsStream(proxy, "127.0.0.4")),
			"sse":       newLiveReader(ctx, "sse", sseStream(proxy, "127.0.0.5")),
		}
		for _, r := range readers {
			waitFor(t, 10*time.Second, r.transport+" reader to connect", func() bool { return r.connects() >= 1 })
		}
		var published []string
		publish := func(n int) {
			for range n {
				published = append(published, publishVia(t, proxy, token, len(published)))
			}
		}
		publish(3)
		for _, transport := range []string{"websocket", "sse"} {
			r := readers[transport]
			waitFor(t, 15*time.Second, r.transport+" reader to get every alert", func() bool { return len(r.seen()) >= len(published) })
			// Kill the instance this reader is on; the alerts published
			// while it reconnects must reach it too.
			on := instanceOf(t, instances, transport)
			before := r.connects()
			on.kill(t)
			publish(3)
			waitFor(t, 15*time.Second, r.transport+" reader to reconnect", func() bool { return r.connects() > before })
			waitFor(t, 15*time.Second, r.transport+" reader to get every alert", func() bool { return len(r.seen()) >= len(published) })
		}
		publish(2)
		for _, r := range readers {
			waitFor(t, 15*time.Second, r.transport+" reader to get the last alerts", func() bool { return len(r.seen()) >= len(published) })
		}
		cancel()
		for _, r := range readers {
			r.wait()
			if got := r.seen(); strings.Join(got, " ") != strings.Join(published, " ") {
				t.Errorf("%s reader got\n%v\nwant every alert once, in order:\n%v", r.transport, got, published)
			}
			if lost := r.unrecovered(); lost > 0 {
				t.Errorf("%s reader: %d reconnects said alerts were missed for good", r.transport, lost)
			}
			if r.connects() < 2 {
				t.Errorf("%s reader connected %d times; its instance's death did not make it reconnect", r.transport, r.connects())
			}
			t.Logf("%s reader: %d alerts over %d connections", r.transport, len(r.seen()), r.connects())
		}
	})
}

// publishVia publishes alert i through nginx and returns its id. It retries
// a failed attempt under the same Idempotency-Key, as a client should when
// an instance dies under it: the retry gets the first answer, never a
// second alert.
func publishVia(tb testing.TB, proxy, token string, i int) string {
	tb.Helper()
	body := fmt.Sprintf(`{"headline":"Behind nginx, alert %d","url":"https://news.example/nginx/%d","topics":["world"],"priority":"flash"}`, i, i)
	key := fmt.Sprintf("nginx-test-%d-%d", time.Now().UnixNano(), i)
	var last string
	for range 5 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+proxy+"/api/v1/alerts", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			var a struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(data, &a); err != nil || a.ID == "" {
				tb.Fatalf("publish answer %s: %v", data, err)
			}
			return a.ID
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, data)
		if resp.StatusCode < 500 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("publish alert %d through nginx: %s", i, last)
	return ""
}
