package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire/internal/redistest"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // substring naming the setting at fault; empty means valid
		check   func(t *testing.T, c config)
	}{
		// Embedded defaults: nothing set.
		{name: "OK defaults", check: func(t *testing.T, c config) {
			if c.Addr != ":8080" || len(c.RedisURLs) != 0 || c.RedisWait != 30*time.Second {
				t.Errorf("defaults = %+v", c)
			}
		}},
		// A flag wins over its variable.
		{name: "OK flag wins", args: []string{"-addr", "127.0.0.1:9000"}, env: map[string]string{"FLASHWIRE_ADDR": ":7000"}, check: func(t *testing.T, c config) {
			if c.Addr != "127.0.0.1:9000" {
				t.Errorf("addr = %q", c.Addr)
			}
		}},
		// Several addresses mean a Cluster.
		{name: "OK cluster", env: map[string]string{"FLASHWIRE_REDIS_URL": "redis://a:7000, redis://b:7001"}, check: func(t *testing.T, c config) {
			if len(c.RedisURLs) != 2 {
				t.Errorf("redis urls = %v", c.RedisURLs)
			}
		}},
		{name: "OK origins", env: map[string]string{"FLASHWIRE_ALLOWED_ORIGINS": "https://News.example.com,*"}, check: func(t *testing.T, c config) {
			if strings.Join(c.AllowedOrigins, " ") != "https://news.example.com *" {
				t.Errorf("origins = %v", c.AllowedOrigins)
			}
		}},
		// Proxies' networks, IPv4 and IPv6; host bits are masked off.
		{name: "OK trusted proxies", env: map[string]string{"FLASHWIRE_TRUSTED_PROXIES": "10.1.2.3/8, fd00::/8"}, check: func(t *testing.T, c config) {
			if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "fd00::/8" {
				t.Errorf("trusted proxies = %v", c.TrustedProxies)
			}
		}},
		// A bare address or a name is not a CIDR.
		{name: "trusted proxies not a CIDR", env: map[string]string{"FLASHWIRE_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}, wantErr: "FLASHWIRE_TRUSTED_PROXIES"},
		{name: "trusted proxies flag", args: []string{"-trusted-proxies", "10.0.0.1"}, wantErr: "-trusted-proxies"},
		// Webhook takeover settings: a lease and a stable instance name.
		{name: "OK webhook lease and instance id", env: map[string]string{"FLASHWIRE_WEBHOOK_LEASE": "5s", "FLASHWIRE_WEBHOOK_TIMEOUT": "4s", "FLASHWIRE_INSTANCE_ID": "web-1.eu_west"}, check: func(t *testing.T, c config) {
			if c.WebhookLease != 5*time.Second || c.InstanceID != "web-1.eu_west" {
				t.Errorf("lease %v, instance id %q", c.WebhookLease, c.InstanceID)
			}
		}},
		// Unset, the lease is a minute and the name is left to the process.
		{name: "OK webhook lease default", check: func(t *testing.T, c config) {
			if c.WebhookLease != time.Minute || c.InstanceID != "" {
				t.Errorf("lease %v, instance id %q", c.WebhookLease, c.InstanceID)
			}
		}},
		// Shorter than a round trip to a partner could ever be.
		{name: "webhook lease too short", env: map[string]string{"FLASHWIRE_WEBHOOK_LEASE": "500ms"}, wantErr: "FLASHWIRE_WEBHOOK_LEASE"},
		// Shorter than the timeout plus 1 s stops start-up; it is never
		// raised without a word.
		{name: "webhook lease under the timeout", env: map[string]string{"FLASHWIRE_WEBHOOK_LEASE": "5s"}, wantErr: "FLASHWIRE_WEBHOOK_LEASE: 5s is shorter than the webhook timeout (10s)"},
		{name: "webhook lease flag under the timeout", args: []string{"-webhook-lease", "10s"}, wantErr: "-webhook-lease"},
		{name: "webhook lease nonsense", env: map[string]string{"FLASHWIRE_WEBHOOK_LEASE": "soon"}, wantErr: "FLASHWIRE_WEBHOOK_LEASE"},
		// A space would make a consumer name hard to read and to type.
		{name: "instance id with space", env: map[string]string{"FLASHWIRE_INSTANCE_ID": "web 1"}, wantErr: "FLASHWIRE_INSTANCE_ID"},
		{name: "instance id too long", env: map[string]string{"FLASHWIRE_INSTANCE_ID": strings.Repeat("a", 65)}, wantErr: "FLASHWIRE_INSTANCE_ID"},
		{name: "addr nonsense", env: map[string]string{"FLASHWIRE_ADDR": "nonsense"}, wantErr: "FLASHWIRE_ADDR"},
		{name: "addr port too big", env: map[string]string{"FLASHWIRE_ADDR": ":99999"}, wantErr: "FLASHWIRE_ADDR"},
		// The flag's name is given when the flag was wrong.
		{name: "addr flag", args: []string{"-addr", "x"}, wantErr: "-addr"},
		{name: "redis scheme", env: map[string]string{"FLASHWIRE_REDIS_URL": "http://localhost:6379"}, wantErr: "FLASHWIRE_REDIS_URL"},
		// A password in a bad URL is not printed.
		{name: "redis password hidden", env: map[string]string{"FLASHWIRE_REDIS_URL": "redis://u:hunter2@/"}, wantErr: "FLASHWIRE_REDIS_URL"},
		{name: "admin token short", env: map[string]string{"FLASHWIRE_ADMIN_TOKEN": "short"}, wantErr: "FLASHWIRE_ADMIN_TOKEN"},
		// The master key is as long as the tokens Flashwire makes.
		{name: "admin token 31", env: map[string]string{"FLASHWIRE_ADMIN_TOKEN": strings.Repeat("k", 31)}, wantErr: "FLASHWIRE_ADMIN_TOKEN"},
		{name: "OK admin token 32", env: map[string]string{"FLASHWIRE_ADMIN_TOKEN": strings.Repeat("k", 32)}, check: func(t *testing.T, c config) {
			if len(c.AdminToken) != 32 {
				t.Errorf("admin token %q", c.AdminToken)
			}
		}},
		{name: "origin with path", env: map[string]string{"FLASHWIRE_ALLOWED_ORIGINS": "https://x.example/news"}, wantErr: "FLASHWIRE_ALLOWED_ORIGINS"},
		{name: "public url relative", env: map[string]string{"FLASHWIRE_PUBLIC_URL": "/flashwire"}, wantErr: "FLASHWIRE_PUBLIC_URL"},
		{name: "log level", env: map[string]string{"FLASHWIRE_LOG_LEVEL": "loud"}, wantErr: "FLASHWIRE_LOG_LEVEL"},
		{name: "redis wait", env: map[string]string{"FLASHWIRE_REDIS_WAIT": "soon"}, wantErr: "FLASHWIRE_REDIS_WAIT"},
		{name: "unknown flag", args: []string{"-colour"}, wantErr: "colour"},
		// The outbound exemptions: names, addresses and networks, nothing else.
		{name: "OK outbound allow", env: map[string]string{"FLASHWIRE_OUTBOUND_ALLOW": "127.0.0.1, feeds.dev"}, check: func(t *testing.T, c config) {
			a := c.OutboundAllow
			if !a.Host("127.0.0.1") || !a.Host("feeds.dev") || a.Host("127.0.0.2") || a.Host("10.0.0.1") || len(c.Warnings) != 0 {
				t.Errorf("allow %+v, warnings %q", a, c.Warnings)
			}
		}},
		// The flag wins over its variable, as for every setting.
		{name: "OK outbound allow flag", args: []string{"-outbound-allow", "10.2.0.0/16"}, env: map[string]string{"FLASHWIRE_OUTBOUND_ALLOW": "127.0.0.1"}, check: func(t *testing.T, c config) {
			if !c.OutboundAllow.Host("10.2.3.4") || c.OutboundAllow.Host("127.0.0.1") {
				t.Errorf("allow %+v", c.OutboundAllow)
			}
		}},
		// The old name still works, with a warning to rename it.
		{name: "OK webhook allow alias", env: map[string]string{"FLASHWIRE_WEBHOOK_ALLOW": "127.0.0.1"}, check: func(t *testing.T, c config) {
			if !c.OutboundAllow.Host("127.0.0.1") || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "FLASHWIRE_OUTBOUND_ALLOW") {
				t.Errorf("allow %+v, warnings %q", c.OutboundAllow, c.Warnings)
			}
		}},
		// Both names set: both lists apply.
		{name: "OK both allow lists", env: map[string]string{"FLASHWIRE_WEBHOOK_ALLOW": "127.0.0.1", "FLASHWIRE_OUTBOUND_ALLOW": "10.1.0.0/16"}, check: func(t *testing.T, c config) {
			if !c.OutboundAllow.Host("127.0.0.1") || !c.OutboundAllow.Host("10.1.2.3") || c.OutboundAllow.Host("10.2.0.1") {
				t.Errorf("allow %+v", c.OutboundAllow)
			}
		}},
		{name: "outbound allow bad CIDR", env: map[string]string{"FLASHWIRE_OUTBOUND_ALLOW": "10.0.0.0/99"}, wantErr: "FLASHWIRE_OUTBOUND_ALLOW"},
		{name: "webhook allow not a host", env: map[string]string{"FLASHWIRE_WEBHOOK_ALLOW": "user@host"}, wantErr: "FLASHWIRE_WEBHOOK_ALLOW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig("test", tt.args, envMap(tt.env), io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			var usage *usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want a usage error naming %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestTokenCommand(t *testing.T) {
	srv, rdb := redistest.Start(t)
	env := envMap(map[string]string{"FLASHWIRE_REDIS_URL": srv.URL()})
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"token", "create", "--role", "editor", "--name", "night desk"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(out.String())
	if !strings.HasPrefix(secret, "fw_") {
		t.Fatalf("printed %q, want a token", secret)
	}
	if n := rdb.HLen(ctx, "flashwire:v1:{tokens}:all").Val(); n != 1 {
		t.Fatalf("redis holds %d tokens, want 1", n)
	}
	out.Reset()
	if err := run(ctx, []string{"token", "list"}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "night desk") {
		t.Fatalf("list: %v\n%s", err, out.String())
	}

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"token", "create", "--role", "owner", "--name", "x"},
			{"token", "create", "--role", "admin"},
			{"token", "frobnicate"},
			{"token"},
			{"launch"},
		} {
			err := run(ctx, args, env, io.Discard, io.Discard)
			var usage *usageError
			if !errors.As(err, &usage) {
				t.Errorf("%v: %v, want a usage error", args, err)
			}
		}
		// Embedded Redis dies with the process: the CLI needs a real one.
		err := run(ctx, []string{"token", "create", "--role", "admin", "--name", "x"}, envMap(nil), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "FLASHWIRE_REDIS_URL") {
			t.Errorf("token create without redis: %v", err)
		}
	})
}

// buildBinary compiles the real flashwire binary once per test.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "flashwire")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBinary runs bin with env and waits for /readyz. out is everything
// the process prints; its log lines (stderr) are also kept for the scan
// for secrets that ends the test run (see TestMain).
func startBinary(tb testing.TB, bin string, env ...string) (*exec.Cmd, string, *output) {
	tb.Helper()
	addr := freeAddr(tb)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "FLASHWIRE_ADDR="+addr)...)
	for _, kv := range env {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "FLASHWIRE_ADMIN_TOKEN":
			noteSecret(v)
		case "FLASHWIRE_REDIS_URL":
			if u, err := url.Parse(v); err == nil {
				pw, _ := u.User.Password()
				noteSecret(pw)
			}
		}
	}
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, io.MultiWriter(out, keepLogs(tb.Name()))
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, addr, out
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not ready within 10s: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// output collects what a process prints; the test reads it while the
// process runs.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

func TestSmoke(t *testing.T) {
	bin := buildBinary(t)

	t.Run("embedded", func(t *testing.T) {
		cmd, addr, out := startBinary(t, bin, "FLASHWIRE_REDIS_URL=", "FLASHWIRE_ADMIN_TOKEN=")
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v", err)
		}
		resp.Body.Close()
		// Another local user finds the embedded Redis's port, but not its
		// password.
		var started struct {
			Addr string `json:"embedded_redis"`
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, `"embedded_redis":"127.0.0.1:`) {
				_ = json.Unmarshal([]byte(line), &started)
			}
		}
		if started.Addr == "" {
			t.Fatalf("no log line gives the embedded Redis's address:\n%s", out.String())
		}
		intruder := redis.NewClient(&redis.Options{Addr: started.Addr, MaxRetries: -1})
		err = intruder.Get(context.Background(), "flashwire:v1:{tokens}:all").Err()
		intruder.Close()
		if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("the embedded Redis answered a client without its password: %v", err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
			}
		case <-time.After(16 * time.Second):
			t.Fatalf("still running 16s after SIGTERM\n%s", out.String())
		}
		for _, want := range []string{"Admin token:", "Reader demo page:", "Editor console:", "embedded in-memory Redis", "shutdown complete"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})

	t.Run("real redis", func(t *testing.T) {
		srv, rdb := redistest.Start(t)
		_, addr, _ := startBinary(t, bin, "FLASHWIRE_REDIS_URL="+srv.URL(), "FLASHWIRE_ADMIN_TOKEN=a-long-bootstrap-token-for-tests")
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/tokens", strings.NewReader(`{"name":"ci","role":"editor"}`))
		req.Header.Set("Authorization", "Bearer a-long-bootstrap-token-for-tests")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("create token through the binary: %v %v", err, resp)
		}
		resp.Body.Close()
		if n := rdb.HLen(context.Background(), "flashwire:v1:{tokens}:all").Val(); n != 1 {
			t.Fatalf("the test's redis holds %d tokens; the binary did not use it", n)
		}
	})

	t.Run("bad setting exits 2", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "FLASHWIRE_ADDR=nonsense")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("exit = %v, want status 2", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "FLASHWIRE_ADDR") {
			t.Fatalf("output = %q, want one line naming FLASHWIRE_ADDR", out)
		}
	})

	// A busy port stops start-up after the embedded Redis and every
	// background loop have started: what they log on the way down is JSON
	// like the rest, and only the last line, the error, is not.
	t.Run("busy port logs JSON only", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "FLASHWIRE_REDIS_URL=", "FLASHWIRE_ADMIN_TOKEN=", "FLASHWIRE_ADDR="+busy.Addr().String())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit = %v, want status 1\n%s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "flashwire: FLASHWIRE_ADDR") {
			t.Errorf("last line %q, want the error naming FLASHWIRE_ADDR", last)
		}
		for _, line := range lines[:len(lines)-1] {
			if !json.Valid([]byte(line)) {
				t.Errorf("a log line that is not JSON: %q", line)
			}
		}
	})

	t.Run("unreachable redis", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "FLASHWIRE_REDIS_URL=redis://"+freeAddr(t), "FLASHWIRE_REDIS_WAIT=1s", "FLASHWIRE_ADDR="+freeAddr(t))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "unreachable after") {
			t.Fatalf("exit = %v, output:\n%s", err, out)
		}
	})
}
