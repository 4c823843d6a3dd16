package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
	"flashwire/web"
)

const adminToken = "bench-test-admin-token-0123456789"

// TestRun drives a small load test against a real instance on loopback.
func TestRun(t *testing.T) {
	_, rdb := redistest.Start(t)
	store := subscribers.NewStore(rdb)
	if err := store.Seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	alertLog := notifier.NewLog(rdb)
	alerts := notifier.NewService(alertLog, store)
	hub := web.NewHub(web.HubConfig{Log: alertLog, Registry: reg, Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = hub.Run(ctx) }()
	ts := httptest.NewServer(web.NewServer(web.Config{
		Logger: logger, Redis: rdb, Alerts: alerts, Subscribers: store,
		Tokens: web.NewTokens(rdb, adminToken), Registry: reg, Hub: hub,
	}))
	defer ts.Close()
	// The hub starts tailing long before run publishes: run first opens
	// the connections and waits at least a second for the memory figures.
	var out bytes.Buffer
	args := []string{"-url", ts.URL, "-token", adminToken, "-conns", "30", "-alerts", "2", "-interval", "10ms", "-settle", "0s", "-sources", "3"}
	if err := run(context.Background(), args, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"opened 30 WebSocket connections", "reached 30/30", "60 deliveries, 0 missing", "server memory per connection"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		// The defaults with a token.
		{[]string{"-token", "x"}, true},
		// Publishing needs a token.
		{nil, false},
		// Not an http URL.
		{[]string{"-token", "x", "-url", "ftp://host"}, false},
		// Too many loopback sources for 127.0.0.x.
		{[]string{"-token", "x", "-sources", "300"}, false},
		// At least one connection.
		{[]string{"-token", "x", "-conns", "0"}, false},
	}
	for _, tc := range cases {
		_, err := parseOptions(tc.args, func(string) string { return "" }, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseOptions(%q) error = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
