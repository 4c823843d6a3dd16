package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
	"flashwire/notifier/webpush"
	"flashwire/subscribers"
)

// The callers every route is tried with.
const (
	asNone   = iota // no credential
	asWrong         // a token that is not one
	asEditor        // an editor's token
	asAdmin         // the bootstrap admin token
)

var callerNames = [...]string{"no token", "wrong token", "editor", "admin"}

// route is one row of the route table: a request for the route and the
// status each caller gets.
type route struct {
	pattern string
	path    string // the request's path and query; {reader} is a fresh reader id
	body    string // JSON; "" sends none
	// tokenInBody sends the caller's token as {"token": ...} instead of a
	// bearer token (the console's sign-in).
	tokenInBody bool
	want        [4]int // by caller: none, wrong, editor, admin
}

// Who may call a route, as the statuses it gives each caller when the
// request itself would be answered with ok.
func public(ok int) [4]int      { return [4]int{ok, ok, ok, ok} }
func editorsOnly(ok int) [4]int { return [4]int{401, 401, ok, ok} }
func adminsOnly(ok int) [4]int  { return [4]int{401, 401, 403, ok} }

// routeRows lists every route of routes.go. Ids in paths name nothing,
// so a caller let through gets 404 (or 400 for a body that is not
// enough): what is tried is who gets through, not what the handler does.
var routeRows = []route{
	// Operations.
	{pattern: "GET /healthz", path: "/healthz", want: public(200)},
	{pattern: "GET /readyz", path: "/readyz", want: public(200)},
	{pattern: "GET /metrics", path: "/metrics", want: public(200)},
	// Tokens.
	{pattern: "GET /api/v1/tokens", path: "/api/v1/tokens", want: adminsOnly(200)},
	{pattern: "POST /api/v1/tokens", path: "/api/v1/tokens", body: `{}`, want: adminsOnly(400)},
	{pattern: "DELETE /api/v1/tokens/{id}", path: "/api/v1/tokens/tok_0000000000000000", want: adminsOnly(404)},
	// Alerts.
	{pattern: "POST /api/v1/alerts", path: "/api/v1/alerts", body: `{}`, want: editorsOnly(400)},
	{pattern: "GET /api/v1/alerts", path: "/api/v1/alerts", want: editorsOnly(200)},
	{pattern: "GET /api/v1/alerts/{id}", path: "/api/v1/alerts/1-0", want: editorsOnly(404)},
	{pattern: "POST /api/v1/alerts/{id}/update", path: "/api/v1/alerts/1-0/update", body: `{}`, want: editorsOnly(404)},
	{pattern: "POST /api/v1/alerts/{id}/retract", path: "/api/v1/alerts/1-0/retract", want: editorsOnly(404)},
	{pattern: "GET /api/v1/alerts/scheduled", path: "/api/v1/alerts/scheduled", want: editorsOnly(200)},
	{pattern: "DELETE /api/v1/alerts/scheduled/{id}", path: "/api/v1/alerts/scheduled/sch_0000000000000000", want: editorsOnly(404)},
	// Readers' preferences: the id is the credential; tokens change nothing.
	{pattern: "POST /api/v1/readers", path: "/api/v1/readers", body: `{}`, want: public(201)},
	{pattern: "OPTIONS /api/v1/readers", path: "/api/v1/readers", want: public(204)},
	{pattern: "GET /api/v1/readers/{id}/preferences", path: "/api/v1/readers/{reader}/preferences", want: public(404)},
	{pattern: "PUT /api/v1/readers/{id}/preferences", path: "/api/v1/readers/{reader}/preferences", body: `{}`, want: public(201)},
	{pattern: "DELETE /api/v1/readers/{id}/preferences", path: "/api/v1/readers/{reader}/preferences", want: public(404)},
	{pattern: "OPTIONS /api/v1/readers/{id}/preferences", path: "/api/v1/readers/{reader}/preferences", want: public(204)},
	// Web Push subscriptions: the reader id is the credential here too.
	{pattern: "POST /api/v1/readers/{id}/push", path: "/api/v1/readers/{reader}/push", body: `{}`, want: public(400)},
	{pattern: "DELETE /api/v1/readers/{id}/push", path: "/api/v1/readers/{reader}/push", body: `{"endpoint":"https://push.example.net/send/1"}`, want: public(404)},
	{pattern: "OPTIONS /api/v1/readers/{id}/push", path: "/api/v1/readers/{reader}/push", want: public(204)},
	{pattern: "DELETE /api/v1/readers/{id}/push/{sub}", path: "/api/v1/readers/{reader}/push/sub_0", want: public(404)},
	{pattern: "OPTIONS /api/v1/readers/{id}/push/{sub}", path: "/api/v1/readers/{reader}/push/sub_0", want: public(204)},
	{pattern: "GET /api/v1/push/key", path: "/api/v1/push/key", want: public(200)},
	// Partners and their webhooks.
	{pattern: "GET /api/v1/partners", path: "/api/v1/partners", want: adminsOnly(200)},
	{pattern: "POST /api/v1/partners", path: "/api/v1/partners", body: `{}`, want: adminsOnly(400)},
	{pattern: "GET /api/v1/partners/{id}", path: "/api/v1/partners/pt_0", want: adminsOnly(404)},
	{pattern: "PATCH /api/v1/partners/{id}", path: "/api/v1/partners/pt_0", body: `{}`, want: adminsOnly(404)},
	{pattern: "DELETE /api/v1/partners/{id}", path: "/api/v1/partners/pt_0", want: adminsOnly(404)},
	{pattern: "GET /api/v1/partners/{id}/deliveries", path: "/api/v1/partners/pt_0/deliveries", want: adminsOnly(404)},
	{pattern: "POST /api/v1/partners/{id}/deliveries/{delivery}/replay", path: "/api/v1/partners/pt_0/deliveries/msg_0/replay", want: adminsOnly(404)},
	{pattern: "POST /api/v1/partners/{id}/replay", path: "/api/v1/partners/pt_0/replay", body: `{}`, want: adminsOnly(404)},
	{pattern: "POST /api/v1/partners/{id}/test", path: "/api/v1/partners/pt_0/test", want: adminsOnly(404)},
	{pattern: "POST /api/v1/partners/{id}/secret/rotate", path: "/api/v1/partners/pt_0/secret/rotate", want: adminsOnly(404)},
	{pattern: "POST /api/v1/partners/{id}/secret/revoke-previous", path: "/api/v1/partners/pt_0/secret/revoke-previous", want: adminsOnly(404)},
	// Taxonomy.
	{pattern: "GET /api/v1/topics", path: "/api/v1/topics", want: public(200)},
	{pattern: "POST /api/v1/topics", path: "/api/v1/topics", body: `{}`, want: adminsOnly(400)},
	{pattern: "DELETE /api/v1/topics/{slug}", path: "/api/v1/topics/no-such-topic", want: adminsOnly(404)},
	{pattern: "DELETE /api/v1/regions/{slug}", path: "/api/v1/regions/no-such-region", want: adminsOnly(404)},
	// Feed sources and held stories.
	{pattern: "GET /api/v1/sources", path: "/api/v1/sources", want: adminsOnly(200)},
	{pattern: "POST /api/v1/sources", path: "/api/v1/sources", body: `{}`, want: adminsOnly(400)},
	{pattern: "GET /api/v1/sources/{id}", path: "/api/v1/sources/src_0", want: adminsOnly(404)},
	{pattern: "PATCH /api/v1/sources/{id}", path: "/api/v1/sources/src_0", body: `{}`, want: adminsOnly(404)},
	{pattern: "DELETE /api/v1/sources/{id}", path: "/api/v1/sources/src_0", want: adminsOnly(404)},
	{pattern: "GET /api/v1/sources/{id}/stories", path: "/api/v1/sources/src_0/stories", want: adminsOnly(404)},
	{pattern: "GET /api/v1/held", path: "/api/v1/held", want: editorsOnly(200)},
	{pattern: "PATCH /api/v1/held/{id}", path: "/api/v1/held/hld_0", body: `{}`, want: editorsOnly(404)},
	{pattern: "POST /api/v1/held/{id}/send", path: "/api/v1/held/hld_0/send", want: editorsOnly(404)},
	{pattern: "POST /api/v1/held/{id}/dismiss", path: "/api/v1/held/hld_0/dismiss", want: editorsOnly(404)},
	// Audience, audit, API description.
	{pattern: "GET /api/v1/audience", path: "/api/v1/audience?topics=world", want: editorsOnly(200)},
	{pattern: "GET /api/v1/audit", path: "/api/v1/audit", want: editorsOnly(200)},
	{pattern: "GET /api/v1/openapi.json", path: "/api/v1/openapi.json", want: public(200)},
	// Live alerts: anyone, tokens change nothing.
	{pattern: "GET /ws", path: "/ws?topics=world", want: public(101)},
	{pattern: "GET /events", path: "/events?topics=world", want: public(200)},
	// Pages and the console's session.
	{pattern: "GET /static/", path: "/static/flashwire.js", want: public(200)},
	{pattern: "GET /{$}", path: "/", want: public(200)},
	{pattern: "GET /flashwire-sw.js", path: "/flashwire-sw.js", want: public(200)},
	{pattern: "GET /editor", path: "/editor", want: public(200)},
	{pattern: "POST /editor/session", path: "/editor/session", tokenInBody: true, want: [4]int{400, 401, 201, 201}},
	// Without a session cookie, bearer tokens do not make a session.
	{pattern: "GET /editor/session", path: "/editor/session", want: public(401)},
	{pattern: "DELETE /editor/session", path: "/editor/session", want: public(401)},
}

// TestRouteTable tries every route of the router with no token, a wrong
// token, an editor's and an admin's, and checks each status. The routes
// are read from the router itself: a route added without a row here, or a
// row whose route is gone, fails the test.
func TestRouteTable(t *testing.T) {
	env := newEnv(t, envOptions{hub: true, stats: true, configure: func(e *testEnv, _ *HubConfig, c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		c.Watcher = watch.New(watch.Config{Redis: e.rdb, Alerts: e.alerts, Taxonomy: e.store, Logger: quiet})
		secrets := webhook.NewSecrets(e.rdb)
		c.PartnerSecrets = secrets
		c.Webhooks = webhook.NewSender(e.rdb, webhook.NewStoreDirectory(e.store), secrets, webhook.Options{Logger: quiet})
		keys, err := webpush.LoadKeys(context.Background(), e.rdb)
		if err != nil {
			t.Fatal(err)
		}
		c.Push = webpush.NewSender(e.rdb, e.store, webpush.Options{Keys: keys})
	}})
	editor := env.newToken(t, "night desk", "editor")
	tokens := [4]string{"", "fw_not-a-token-of-this-service", editor, testAdminToken}

	rows := map[string]route{}
	for _, r := range routeRows {
		if _, dup := rows[r.pattern]; dup {
			t.Fatalf("two rows for %s", r.pattern)
		}
		rows[r.pattern] = r
	}
	registered := map[string]bool{}
	for _, p := range env.server.mux.patterns {
		registered[p] = true
		if _, ok := rows[p]; !ok {
			t.Errorf("route %q has no row in the route table: add one with the status each caller gets", p)
		}
	}
	for p := range rows {
		if !registered[p] {
			t.Errorf("the route table has a row for %q, which the router does not have", p)
		}
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, r := range routeRows {
		t.Run(r.pattern, func(t *testing.T) {
			for who, token := range tokens {
				req := newRouteRequest(t, env, r, token)
				// Each route and caller from an address of its own, so
				// that wrong tokens never reach the per-address limit.
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.%d.%d", i, who+1))
				if _, pattern := env.server.mux.Handler(req); pattern != r.pattern {
					t.Fatalf("%s %s is routed to %q, not %q", req.Method, req.URL, pattern, r.pattern)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var head []byte
				if resp.StatusCode != http.StatusSwitchingProtocols && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					head, _ = io.ReadAll(io.LimitReader(resp.Body, 300))
				}
				resp.Body.Close()
				if resp.StatusCode != r.want[who] {
					t.Errorf("%s: %d, want %d: %s", callerNames[who], resp.StatusCode, r.want[who], head)
				}
			}
		})
	}
}

// newRouteRequest builds the request of row r as the caller with token
// ("" for none) sends it.
func newRouteRequest(tb testing.TB, env *testEnv, r route, token string) *http.Request {
	tb.Helper()
	method, _, _ := strings.Cut(r.pattern, " ")
	body := r.body
	if r.tokenInBody {
		b, _ := json.Marshal(map[string]string{"token": token})
		body = string(b)
		if token == "" {
			body = `{}`
		}
	}
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	path := strings.ReplaceAll(r.path, "{reader}", subscribers.NewReaderID())
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" && !r.tokenInBody {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if path == "/ws" || strings.HasPrefix(path, "/ws?") {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	return req
}
