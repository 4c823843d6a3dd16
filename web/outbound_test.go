package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flashwire"

	"flashwire/notifier/outbound"
	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
	"flashwire/subscribers"
)

// loopbackOutbound is the outbound setting of tests whose feeds and
// partners listen on loopback: 127.0.0.1 exempt, nothing else.
func loopbackOutbound(tb testing.TB) outbound.Config {
	tb.Helper()
	a, err := outbound.ParseAllow([]string{"127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	return outbound.Config{Allow: a}
}

// testNames is the tests' own resolver: no DNS, no hosts file. Only
// feeds.test is exempt (by name); every other name leads to an address the
// guard refuses, most of them to the test's server on loopback, so that a
// guard that let them through would be caught by the server's count.
func testNames(ctx context.Context, host string) ([]netip.Addr, error) {
	names := map[string][]string{
		"feeds.test":    {"127.0.0.1"},        // the allowed server
		"localhost":     {"127.0.0.1", "::1"}, // as a hosts file says
		"intranet.test": {"127.0.0.1"},        // a name for loopback
		"mapped.test":   {"::ffff:127.0.0.1"}, // a name for mapped loopback
		"private.test":  {"10.0.0.1"},         // a name for a private address
		"metadata.test": {"169.254.169.254"},  // a name for cloud metadata
	}
	var out []netip.Addr
	for _, s := range names[strings.ToLower(host)] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// TestOutboundRefusedAlike runs one table of outbound addresses through
// the feed fetch and the webhook post: every internal address, however it
// is named or reached, is refused by both, reported as "address not
// allowed" without the address, the port or any state of a connection,
// and never receives a request.
func TestOutboundRefusedAlike(t *testing.T) {
	rss, err := os.ReadFile("../notifier/watch/testdata/rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64 // requests that reached the server other than a redirect
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); r.URL.Path == "/redirect" && to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		hits.Add(1)
		_, _ = w.Write(rss)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	at := func(host string) string { return "http://" + net.JoinHostPort(host, port) + "/feed" }
	via := func(to string) string { return at("feeds.test") + "?to=" + url.QueryEscape(to) }
	redirect := func(to string) string { return strings.Replace(via(to), "/feed?", "/redirect?", 1) }

	allow, err := outbound.ParseAllow([]string{"feeds.test"})
	if err != nil {
		t.Fatal(err)
	}
	guard := outbound.Config{Allow: allow, Lookup: testNames}
	var wt *watch.Watcher
	var sender *webhook.Sender
	e := newEnv(t, envOptions{configure: func(e *testEnv, _ *HubConfig, c *Config) {
		wt = watch.New(watch.Config{Redis: e.rdb, Alerts: e.alerts, Taxonomy: e.store, Logger: c.Logger,
			FetchTimeout: 5 * time.Second, Outbound: guard})
		secrets := webhook.NewSecrets(e.rdb)
		sender = webhook.NewSender(e.rdb, webhook.NewStoreDirectory(e.store), secrets, webhook.Options{
			Outbound: guard, Timeout: 5 * time.Second, Poll: 10 * time.Millisecond, Logger: c.Logger})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = sender.Run(ctx) }()
		t.Cleanup(func() { stop(); <-done })
		c.Watcher, c.PartnerSecrets, c.Webhooks = wt, secrets, sender
	}})
	ctx := context.Background()

	const refused = "address not allowed"
	tests := []struct {
		name string
		url  string
		// feed and hook are how the feed's last_error and the webhook
		// attempt's error begin; "" means the call went through.
		feed, hook string
	}{
		// The control: the exempt server is fetched and posted to, so a
		// refusal below is the guard's, not a broken set-up.
		{"allowed", at("feeds.test"), "", ""},
		{"loopback", at("127.0.0.1"), refused, refused},
		{"loopback, rest of 127/8", at("127.0.0.2"), refused, refused},
		{"IPv6 loopback", at("::1"), refused, refused},
		{"IPv4-mapped loopback", at("::ffff:127.0.0.1"), refused, refused},
		{"unspecified", at("0.0.0.0"), refused, refused},
		{"IPv6 unspecified", at("::"), refused, refused},
		{"localhost", at("localhost"), refused, refused},
		{"private 10/8", at("10.0.0.1"), refused, refused},
		{"private 172.16/12", at("172.16.0.1"), refused, refused},
		{"private 192.168/16", at("192.168.1.1"), refused, refused},
		{"link-local, cloud metadata", at("169.254.169.254"), refused, refused},
		{"IPv6 link-local", at("fe80::1"), refused, refused},
		{"unique-local", at("fd00::1"), refused, refused},
		{"carrier-grade NAT", at("100.64.0.1"), refused, refused},
		{"0.0.0.0/8", at("0.1.2.3"), refused, refused},
		{"multicast", at("224.0.0.1"), refused, refused},
		{"broadcast", at("255.255.255.255"), refused, refused},
		{"benchmarking", at("198.18.0.1"), refused, refused},
		{"documentation", at("192.0.2.1"), refused, refused},
		{"NAT64 of loopback", at("64:ff9b::7f00:1"), refused, refused},
		{"6to4 of a private address", at("2002:a00:1::1"), refused, refused},
		{"name resolving to loopback", at("intranet.test"), refused, refused},
		{"name resolving to mapped loopback", at("mapped.test"), refused, refused},
		{"name resolving to a private address", at("private.test"), refused, refused},
		{"name resolving to cloud metadata", at("metadata.test"), refused, refused},
		// Webhooks follow no redirect at all: the 3xx is the answer.
		{"redirect into loopback", redirect(at("127.0.0.1")), refused, "HTTP 302"},
		{"redirect into IPv6 loopback", redirect(at("::1")), refused, "HTTP 302"},
		{"redirect into a name resolving to loopback", redirect(at("intranet.test")), refused, "HTTP 302"},
		{"redirect into cloud metadata", redirect("http://169.254.169.254/latest/meta-data/"), refused, "HTTP 302"},
		{"redirect adding credentials", redirect("http://user:pw@" + net.JoinHostPort("feeds.test", port) + "/feed"),
			"the source URL, or a redirect from it, carries a user name or password", "HTTP 302"},
	}

	type started struct{ source, partner string }
	ids := make([]started, len(tests))
	literal := 0 // sources refused at create
	for i, tt := range tests {
		// A refused address given as an IP literal is refused at create
		// already, as a 400 naming url; names are judged when dialled.
		src, err := wt.CreateSource(ctx, watch.Source{URL: tt.url, Topics: []string{"world"}, Mode: "hold"})
		switch {
		case err != nil && tt.feed == refused && errors.Is(err, flashwire.ErrInvalid) && strings.Contains(err.Error(), refused):
			if strings.Contains(err.Error(), port) {
				t.Errorf("%s: create source: %q gives away the port", tt.name, err)
			}
			literal++
		case err != nil:
			t.Fatalf("%s: create source: %v", tt.name, err)
		}
		p, err := e.store.CreatePartner(ctx, subscribers.Partner{Name: fmt.Sprint("partner ", i), URL: tt.url})
		if err != nil {
			t.Fatalf("%s: create partner: %v", tt.name, err)
		}
		if _, err := e.server.cfg.PartnerSecrets.Create(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := sender.Ping(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		ids[i] = started{src.ID, p.ID}
	}
	if literal < 15 {
		t.Errorf("%d sources with internal IP literals refused at create, want every one of them", literal)
	}
	// leaks says what a report gives away that it must not: the address
	// dialled, the port, or how a connection went.
	leaks := func(report string) string {
		for _, s := range []string{port, "127.0.0.1", "::1", "connection", "refused the", "timeout", "did not answer"} {
			if strings.Contains(report, s) {
				return s
			}
		}
		return ""
	}
	check := func(t *testing.T, channel, report, want string) {
		t.Helper()
		switch {
		case want == "" && report != "":
			t.Errorf("%s: %q, want it to go through", channel, report)
		case want != "" && !strings.HasPrefix(report, want):
			t.Errorf("%s: %q, want it to begin %q", channel, report, want)
		case want == refused && leaks(report) != "":
			t.Errorf("%s: %q gives away %q", channel, report, leaks(report))
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ids[i].source != "" {
				before := hits.Load()
				_ = wt.RunOnce(ctx, ids[i].source)
				src, err := wt.Source(ctx, ids[i].source)
				if err != nil {
					t.Fatal(err)
				}
				check(t, "feed", src.State.LastError, tt.feed)
				if tt.feed != "" && hits.Load() != before {
					t.Errorf("feed: the server got %d requests", hits.Load()-before)
				}
			}

			var as []webhook.Attempt
			deadline := time.Now().Add(10 * time.Second)
			for len(as) == 0 || as[0].Outcome == "" {
				if time.Now().After(deadline) {
					t.Fatal("no webhook attempt")
				}
				time.Sleep(5 * time.Millisecond)
				as, _, _, err = sender.Attempts(ctx, ids[i].partner, 0, 1)
				if err != nil {
					t.Fatal(err)
				}
			}
			check(t, "webhook", as[0].Error, tt.hook)
			if tt.hook == "" && as[0].Outcome != "delivered" {
				t.Errorf("webhook: attempt %+v, want it delivered", as[0])
			}
		})
	}
	// Every request the server saw came from the allowed cases: the
	// control's fetch and post.
	if n := hits.Load(); n != 2 {
		t.Errorf("the server got %d requests, want 2 (the allowed feed and webhook)", n)
	}
}

// TestCredentialsRefusedAtCreate: a URL with a user name or password, or
// an internal address given as an IP literal, is a 400 naming the field,
// for a source as for a partner.
func TestCredentialsRefusedAtCreate(t *testing.T) {
	e, _, _ := newWatchTestEnv(t)
	for _, tt := range []struct{ path, field string }{
		{"/api/v1/sources", "url"},
		{"/api/v1/partners", "url"},
	} {
		urls := []string{"https://user:pass@news.example.com/world.rss", "https://user@news.example.com/world.rss"}
		if tt.path == "/api/v1/sources" {
			// Partners' literals are refused by the webhook sender, which
			// this instance has none of: web/webhooks_test.go tries them.
			urls = append(urls, "https://10.1.2.3/world.rss", "https://[::ffff:169.254.169.254]/latest/meta-data/")
		}
		for _, u := range urls {
			req := map[string]any{"url": u, "topics": []string{"world"}}
			if tt.path == "/api/v1/partners" {
				req["name"] = "Planet"
			}
			status, body := e.do(t, "POST", tt.path, testAdminToken, req)
			fields, _ := body["fields"].([]any)
			if status != http.StatusBadRequest || len(fields) == 0 || fields[0].(map[string]any)["field"] != tt.field {
				t.Errorf("POST %s with %s: status %d, body %v; want 400 naming %s", tt.path, u, status, body, tt.field)
			}
		}
	}
}
