package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

const testAdminToken = "test-admin-token-0123456789"

// testEnv is one Flashwire instance on loopback over a real Redis: its
// HTTP server and the parts tests reach into.
type testEnv struct {
	*httptest.Server
	redis  *redistest.Server // nil when the test passed its own Redis
	rdb    redis.UniversalClient
	store  *subscribers.Store
	alerts *notifier.Service
	log    *notifier.Log
	stats  *notifier.Stats // nil unless envOptions.stats
	hub    *Hub            // nil unless envOptions.hub
	reg    *prometheus.Registry
	server *Server
}

// envOptions says how newEnv builds an instance. The zero value is a server
// over a fresh, seeded Redis without a hub or delivery figures.
type envOptions struct {
	// rdb is the Redis to use, shared with other instances or the test;
	// nil starts a fresh one.
	rdb redis.UniversalClient
	// stats keeps per-alert delivery figures.
	stats bool
	// hub runs a hub; newEnv returns once it tails the alert log.
	hub bool
	// readTimeout, when set, is the server's ReadTimeout.
	readTimeout time.Duration
	// configure, when set, adjusts the settings once the store, service
	// and figures exist and before the hub and server are made.
	configure func(e *testEnv, h *HubConfig, c *Config)
	// wrap, when set, puts a handler in front of the server's.
	wrap func(http.Handler) http.Handler
	// noPoller makes every WebSocket read by a goroutine of its own, as
	// where there is no epoll.
	noPoller bool
}

// newEnv builds and starts an instance as opts says; the test's cleanup
// stops it.
func newEnv(tb testing.TB, opts envOptions) *testEnv {
	tb.Helper()
	e := &testEnv{rdb: opts.rdb, reg: prometheus.NewRegistry()}
	if e.rdb == nil {
		e.redis, e.rdb = redistest.Start(tb)
	}
	e.store = subscribers.NewStore(e.rdb)
	if err := e.store.Seed(context.Background()); err != nil {
		tb.Fatal(err)
	}
	e.log = notifier.NewLog(e.rdb)
	e.alerts = notifier.NewService(e.log, e.store)
	if opts.stats {
		e.stats = notifier.NewStats(e.rdb)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hcfg := HubConfig{Log: e.log, Stats: e.stats, Registry: e.reg, Logger: logger, Taxonomy: e.store}
	cfg := Config{
		Logger:      logger,
		Redis:       e.rdb,
		Alerts:      e.alerts,
		Subscribers: e.store,
		Tokens:      NewTokens(e.rdb, testAdminToken),
		Registry:    e.reg,
		Stats:       e.stats,
	}
	if opts.configure != nil {
		opts.configure(e, &hcfg, &cfg)
	}
	if opts.hub {
		e.hub = NewHub(hcfg)
		if opts.noPoller {
			e.hub.poller = nil
		}
		cfg.Hub = e.hub
	}
	e.server = NewServer(cfg)
	var h http.Handler = e.server
	if opts.wrap != nil {
		h = opts.wrap(h)
	}
	e.Server = httptest.NewUnstartedServer(h)
	e.Config.ReadTimeout = opts.readTimeout
	e.Start()
	if e.hub == nil {
		tb.Cleanup(e.Close)
		return e
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Run ends when the tail's blocking read returns, at the latest when
	// the test's Redis stops.
	go func() { _ = e.hub.Run(ctx) }()
	tb.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		e.hub.Shutdown(sctx)
		scancel()
		e.Close()
		cancel()
	})
	select {
	case <-e.hub.tailing:
	case <-time.After(10 * time.Second):
		tb.Fatal("hub did not start tailing the alert log")
	}
	return e
}

// newTestEnv is a server over a fresh Redis, without a hub.
func newTestEnv(tb testing.TB) *testEnv {
	tb.Helper()
	return newEnv(tb, envOptions{})
}

// newLiveEnv starts an instance with a running hub and delivery figures
// over rdb; configure, when set, adjusts the hub's and server's settings
// before it starts.
func newLiveEnv(tb testing.TB, rdb redis.UniversalClient, configure func(*HubConfig, *Config)) *testEnv {
	tb.Helper()
	return newEnv(tb, envOptions{
		rdb:   rdb,
		stats: true,
		hub:   true,
		// Like flashwire serve's ReadTimeout, shortened: live connections
		// must outlive it.
		readTimeout: time.Second,
		configure: func(_ *testEnv, h *HubConfig, c *Config) {
			// Every test client comes from 127.0.0.1.
			h.MaxConnectionsPerIP = 5000
			if configure != nil {
				configure(h, c)
			}
		},
	})
}

// request sends a request with an optional bearer token, body and extra
// headers, and returns the response, whose body is closed, and the body
// read. A string body is sent as it is, anything else as JSON.
func (e *testEnv) request(tb testing.TB, method, path, token string, body any, header map[string]string) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// do sends a request with an optional bearer token and body and returns
// the status and the decoded JSON body (nil when not JSON).
func (e *testEnv) do(tb testing.TB, method, path, token string, body any) (int, map[string]any) {
	tb.Helper()
	code, out, _ := e.send(tb, method, path, token, body, nil)
	return code, out
}

// send is do with extra headers, also returning the response headers.
func (e *testEnv) send(tb testing.TB, method, path, token string, body any, header map[string]string) (int, map[string]any, http.Header) {
	tb.Helper()
	resp, raw := e.request(tb, method, path, token, body, header)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// newToken creates a token through the API and returns its secret.
func (e *testEnv) newToken(tb testing.TB, name, role string) string {
	tb.Helper()
	code, body := e.do(tb, "POST", "/api/v1/tokens", testAdminToken, map[string]any{"name": name, "role": role})
	tok, _ := body["token"].(string)
	if code != 201 || tok == "" {
		tb.Fatalf("create %s token = %d %v", role, code, body)
	}
	return tok
}

// eachRedis runs fn against a single redis-server and a three-master Redis
// Cluster, each started for the test.
func eachRedis(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Run("single", func(t *testing.T) {
		_, rdb := redistest.Start(t)
		fn(t, rdb)
	})
	t.Run("cluster", func(t *testing.T) {
		_, rdb := redistest.StartCluster(t)
		fn(t, rdb)
	})
}
