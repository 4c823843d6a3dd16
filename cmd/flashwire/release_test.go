package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

// TestReleaseBuild builds the binary as a release is built (make build),
// and checks on that binary what operators rely on: flashwire version,
// the build_info metric and the webhook User-Agent agree on the version;
// after some traffic, every metric the Grafana dashboard and the alerting
// rules query exists on /metrics; and docs/operations.md explains every
// flashwire_* metric.
func TestReleaseBuild(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		redistest.Missing(t, "make")
	}
	bin := filepath.Join(t.TempDir(), "flashwire")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "make", "-C", repoRoot, "--no-print-directory", "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("flashwire version: %v", err)
	}
	b := parseVersion(t, string(out))
	// In a git checkout the Makefile stamps the checkout's commit;
	// without git, what the Go build information says, or "unknown".
	if head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Output(); err == nil {
		if want := strings.TrimSpace(string(head)); b.Revision != want {
			t.Errorf("revision %q, want the checkout's %q", b.Revision, want)
		}
		if b.Version == "dev" {
			t.Error("version is dev in a git checkout")
		}
	}
	t.Logf("flashwire version: %q", out)

	srv, _ := redistest.Start(t)
	const token = "a-long-bootstrap-token-for-tests"
	_, addr, _ := startBinary(t, bin,
		"FLASHWIRE_REDIS_URL="+srv.URL(), "FLASHWIRE_ADMIN_TOKEN="+token,
		"FLASHWIRE_WEBHOOK_ALLOW=127.0.0.1", "FLASHWIRE_MAX_CONNECTIONS_PER_IP=2")
	agents := generateTraffic(t, addr, token)

	metrics := scrapeNames(t, addr)
	t.Run("build info", func(t *testing.T) {
		want := fmt.Sprintf(`flashwire_build_info{dirty="%t",goversion="%s",revision="%s",version="%s"}`, b.Dirty, b.GoVersion, b.Revision, b.Version)
		if v := metricValue(t, addr, want); v != 1 {
			t.Errorf("%s = %v, want 1", want, v)
		}
		if want := "Flashwire/" + b.Version; !slices.Equal(agents, []string{want}) {
			t.Errorf("webhook User-Agent %q, want %q", agents, want)
		}
	})

	t.Run("dashboard queries live metrics", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(repoRoot, "docs/deploy/grafana-dashboard.json"))
		if err != nil {
			t.Fatal(err)
		}
		var dash any
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatal(err)
		}
		var exprs []string
		walkJSON(dash, func(key string, v any) {
			if s, ok := v.(string); ok && key == "expr" {
				exprs = append(exprs, s)
			}
		})
		checkQueries(t, "dashboard", exprs, metrics)
	})

	t.Run("rules query live metrics", func(t *testing.T) {
		var rules struct {
			Groups []struct {
				Rules []struct {
					Expr string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		readYAML(t, "docs/deploy/prometheus-rules.yml", &rules)
		var exprs []string
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				exprs = append(exprs, r.Expr)
			}
		}
		checkQueries(t, "alerting rules", exprs, metrics)
	})

	t.Run("operations guide explains every metric", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join(repoRoot, "docs/operations.md"))
		if err != nil {
			t.Fatal(err)
		}
		families := 0
		for name := range metrics.families {
			if !strings.HasPrefix(name, "flashwire_") {
				continue
			}
			families++
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/operations.md does not explain %s", name)
			}
		}
		if families < 20 {
			t.Errorf("only %d flashwire_* metrics on /metrics; traffic did not reach them", families)
		}
	})
}

// parseVersion reads the output of flashwire version.
func parseVersion(tb testing.TB, out string) build {
	tb.Helper()
	var b build
	var dirty string
	n, err := fmt.Sscanf(out, "flashwire %s\nrevision: %s\ndirty: %s\ngo: %s\n", &b.Version, &b.Revision, &dirty, &b.GoVersion)
	if err != nil || n != 4 || (dirty != "true" && dirty != "false") {
		tb.Fatalf("flashwire version printed %q: %v", out, err)
	}
	b.Dirty = dirty == "true"
	return b
}

// generateTraffic gives every metric a reason to exist on the instance at
// addr: live readers over both transports, a resume, a refusal, webhook
// deliveries, a partner disabled by a 410. It returns the User-Agents the
// webhook partner saw.
func generateTraffic(tb testing.TB, addr, token string) []string {
	tb.Helper()
	var mu sync.Mutex
	agents := map[string]bool{}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents[r.UserAgent()] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(ok.Close)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	tb.Cleanup(gone.Close)
	for name, u := range map[string]string{"Answers": ok.URL, "Gone": gone.URL} {
		var p struct {
			ID string `json:"id"`
		}
		apiCall(tb, addr, token, "POST", "/api/v1/partners", map[string]any{"name": name, "url": u + "/hook", "topics": []string{"world"}}, &p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readers := []*liveReader{
		newLiveReader(ctx, "websocket", wsStream(addr, "127.0.0.1")),
		newLiveReader(ctx, "sse", sseStream(addr, "127.0.0.1")),
	}
	for _, r := range readers {
		waitFor(tb, 10*time.Second, r.transport+" reader to connect", func() bool { return r.connects() >= 1 })
	}
	var a struct {
		ID string `json:"id"`
	}
	apiCall(tb, addr, token, "POST", "/api/v1/alerts", map[string]any{
		"headline": "Metrics test alert", "url": "https://news.example/metrics/1", "topics": []string{"world"}, "priority": "flash",
	}, &a)
	for _, r := range readers {
		waitFor(tb, 10*time.Second, r.transport+" reader to get the alert", func() bool { return len(r.seen()) == 1 })
	}
	// The two readers are all 127.0.0.1 may hold.
	if c, status, err := dialWS(addr, "127.0.0.1", "", nil); err == nil || status != http.StatusTooManyRequests {
		if c != nil {
			c.Close()
		}
		tb.Fatalf("a third connection from one address: %d %v, want 429", status, err)
	}
	c, _, err := dialWS(addr, "127.0.0.6", a.ID, nil)
	if err != nil {
		tb.Fatalf("resume: %v", err)
	}
	c.Close()
	cancel()
	for _, r := range readers {
		r.wait()
	}
	waitFor(tb, 10*time.Second, "the 410 partner to be disabled", func() bool {
		return metricValue(tb, addr, `flashwire_webhook_partners_disabled_total{reason="gone"}`) == 1
	})
	waitFor(tb, 10*time.Second, "the webhook to reach the partner", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(agents) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for a := range agents {
		out = append(out, a)
	}
	return out
}

// checkQueries fails tb for every metric a PromQL expression names that
// the instance does not expose. "up" is Prometheus's own, per target.
func checkQueries(tb testing.TB, what string, exprs []string, metrics exposed) {
	tb.Helper()
	if len(exprs) == 0 {
		tb.Fatalf("no queries in the %s", what)
	}
	names := 0
	for _, expr := range exprs {
		found := promqlMetricNames(expr)
		if len(found) == 0 {
			tb.Errorf("%s: found no metric in %q", what, expr)
		}
		for _, name := range found {
			names++
			if name != "up" && !metrics.samples[name] {
				tb.Errorf("%s: %q queries %s, which the instance does not expose", what, expr, name)
			}
		}
	}
	tb.Logf("%s: %d queries naming %d metrics", what, len(exprs), names)
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promLabels   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// promqlMetricNames returns the metric names a PromQL expression selects:
// identifiers left once strings, label matchers, ranges and grouping
// clauses are cut out, less functions (followed by a parenthesis),
// keywords and numbers.
func promqlMetricNames(expr string) []string {
	e := promString.ReplaceAllString(expr, `""`)
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRange.ReplaceAllString(e, " ")
	e = promLabels.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(e[loc[0]-1:loc[0]], "0123456789.") {
			continue // the exponent or unit of a number
		}
		if strings.HasPrefix(strings.TrimLeft(e[loc[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(name)] {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestPromqlMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		// A plain selector with matchers.
		{`up{job="flashwire"} == 0`, []string{"up"}},
		// Functions, aggregation clauses and Grafana's range variable.
		{`histogram_quantile(0.99, sum by (le) (rate(flashwire_live_publish_to_write_seconds_bucket[$__rate_interval])))`, []string{"flashwire_live_publish_to_write_seconds_bucket"}},
		// Two selectors, a keyword, a grouping clause after the call.
		{`max without (instance) (a_total) > 60 and sum(b{x="and"}) by (y)`, []string{"a_total", "b"}},
		// Vector matching and numbers with exponents.
		{`x / on (instance) group_left (version) y > 1e3`, []string{"x", "y"}},
	}
	for _, tt := range tests {
		if got := promqlMetricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("promqlMetricNames(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}
