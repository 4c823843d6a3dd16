package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"flashwire/notifier/webhook"
)

// partnerHits is a partner endpoint on loopback recording what it got.
type partnerHits struct {
	*httptest.Server
	mu   sync.Mutex
	hits []*http.Request
	body [][]byte
}

func newPartnerHits(tb testing.TB) *partnerHits {
	tb.Helper()
	p := &partnerHits{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.hits = append(p.hits, r)
		p.body = append(p.body, b)
		p.mu.Unlock()
		_, _ = io.WriteString(w, "thanks")
	}))
	tb.Cleanup(p.Close)
	return p
}

// wait returns the nth request (from 1) and its body once it came.
func (p *partnerHits) wait(tb testing.TB, n int) (*http.Request, []byte) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p.mu.Lock()
		if len(p.hits) >= n {
			r, b := p.hits[n-1], p.body[n-1]
			p.mu.Unlock()
			return r, b
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			tb.Fatalf("partner got fewer than %d requests", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// withWebhooks runs a webhook sender, allowed to reach loopback, in the
// instance newEnv builds.
func withWebhooks(tb testing.TB) func(*testEnv, *HubConfig, *Config) {
	return func(e *testEnv, _ *HubConfig, c *Config) {
		secrets := webhook.NewSecrets(e.rdb)
		sender := webhook.NewSender(e.rdb, webhook.NewStoreDirectory(e.store), secrets, webhook.Options{
			Outbound: loopbackOutbound(tb), Poll: 10 * time.Millisecond, Logger: c.Logger})
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = sender.Run(ctx) }()
		tb.Cleanup(func() { stop(); <-done })
		c.PartnerSecrets = secrets
		c.Webhooks = sender
	}
}

func verifies(secret string, r *http.Request, body []byte) bool {
	wh, err := standardwebhooks.NewWebhook(secret)
	return err == nil && wh.Verify(body, r.Header) == nil
}

func TestWebhooksAPI(t *testing.T) {
	env := newEnv(t, envOptions{configure: withWebhooks(t)})

	recv := newPartnerHits(t)
	code, created := env.do(t, "POST", "/api/v1/partners", testAdminToken, map[string]any{
		"name": "Daily Planet", "url": recv.URL + "/hook", "topics": []string{"world"}})
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if code != 201 || id == "" || len(secret) < 40 {
		t.Fatalf("create partner = %d %v", code, created)
	}
	path := "/api/v1/partners/" + id

	t.Run("OK", func(t *testing.T) {
		code, body := env.do(t, "POST", path+"/test", testAdminToken, nil)
		dl, _ := body["delivery"].(map[string]any)
		if code != 202 || dl["id"] == nil {
			t.Fatalf("test = %d %v", code, body)
		}
		r, b := recv.wait(t, 1)
		if !verifies(secret, r, b) || r.Header.Get("webhook-id") != dl["id"] {
			t.Fatalf("ping %s with headers %v does not verify with the secret shown at creation", b, r.Header)
		}
		var page map[string]any
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			code, page = env.do(t, "GET", path+"/deliveries", testAdminToken, nil)
			if page["total"] == float64(1) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		attempts, _ := page["attempts"].([]any)
		if code != 200 || len(attempts) != 1 {
			t.Fatalf("deliveries = %d %v", code, page)
		}
		a := attempts[0].(map[string]any)
		if a["outcome"] != "delivered" || a["status"] != float64(200) || a["response"] != "thanks" || a["type"] != "ping" || a["at"] == nil {
			t.Fatalf("attempt %v", a)
		}

		// Replaying sends the same message, same webhook-id.
		code, body = env.do(t, "POST", path+"/deliveries/"+dl["id"].(string)+"/replay", testAdminToken, nil)
		if code != 202 {
			t.Fatalf("replay = %d %v", code, body)
		}
		r2, b2 := recv.wait(t, 2)
		if r2.Header.Get("webhook-id") != dl["id"] || string(b2) != string(b) {
			t.Fatalf("replay sent %s %s", r2.Header.Get("webhook-id"), b2)
		}
		code, body = env.do(t, "POST", path+"/replay", testAdminToken, map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)})
		if code != 202 || body["queued"] != float64(1) {
			t.Fatalf("replay since = %d %v", code, body)
		}
		recv.wait(t, 3)
	})

	t.Run("Rotate", func(t *testing.T) {
		code, body := env.do(t, "POST", path+"/secret/rotate", testAdminToken, nil)
		newSecret, _ := body["secret"].(string)
		if code != 200 || newSecret == "" || newSecret == secret || body["previous_valid_until"] == nil {
			t.Fatalf("rotate = %d %v", code, body)
		}
		recv.mu.Lock()
		n := len(recv.hits)
		recv.mu.Unlock()
		env.do(t, "POST", path+"/test", testAdminToken, nil)
		r, b := recv.wait(t, n+1)
		if !verifies(secret, r, b) || !verifies(newSecret, r, b) {
			t.Fatal("during the grace period a message must verify with both secrets")
		}
		if code, _ := env.do(t, "POST", path+"/secret/revoke-previous", testAdminToken, nil); code != 204 {
			t.Fatalf("revoke = %d", code)
		}
		env.do(t, "POST", path+"/test", testAdminToken, nil)
		r, b = recv.wait(t, n+2)
		if verifies(secret, r, b) || !verifies(newSecret, r, b) {
			t.Fatal("after revoking, only the new secret may verify")
		}
	})

	t.Run("Errors", func(t *testing.T) {
		editor := env.newToken(t, "desk", "editor")
		tests := []struct {
			name, method, path, token string
			body                      any
			want                      int
			fields                    []string
		}{
			// Unknown partner.
			{"ErrNotFound", "GET", "/api/v1/partners/pt_none/deliveries", testAdminToken, nil, 404, nil},
			// Unknown delivery of a known partner.
			{"ErrNotFoundDelivery", "POST", path + "/deliveries/msg_none/replay", testAdminToken, nil, 404, nil},
			// Editors do not manage partners.
			{"ErrForbidden", "POST", path + "/test", editor, nil, 403, nil},
			// No token.
			{"ErrUnauthorized", "GET", path + "/deliveries", "", nil, 401, nil},
			// Bad paging, both named.
			{"ErrPaging", "GET", path + "/deliveries?offset=-1&limit=1000", testAdminToken, nil, 400, []string{"offset", "limit"}},
			// A replay needs a time.
			{"ErrSinceMissing", "POST", path + "/replay", testAdminToken, map[string]any{}, 400, []string{"since"}},
			{"ErrSinceBad", "POST", path + "/replay", testAdminToken, map[string]any{"since": "yesterday"}, 400, []string{"since"}},
			{"ErrSinceFuture", "POST", path + "/replay", testAdminToken, map[string]any{"since": time.Now().Add(time.Hour).Format(time.RFC3339)}, 400, []string{"since"}},
			// A grace period must be a duration.
			{"ErrGrace", "POST", path + "/secret/rotate", testAdminToken, map[string]any{"keep_previous_for": "forever"}, 400, []string{"keep_previous_for"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, body := env.do(t, tt.method, tt.path, tt.token, tt.body)
				if code != tt.want {
					t.Fatalf("%s %s = %d %v, want %d", tt.method, tt.path, code, body, tt.want)
				}
				if got := fieldsAtFault(body); tt.fields != nil && !slices.Equal(got, tt.fields) {
					t.Fatalf("fields at fault %v, want %v", got, tt.fields)
				}
			})
		}
	})
}

// TestPartnerURLsNoDeliveryCouldReach: a partner URL that names an
// internal address literally, or plain http to a host not allowed it, is
// refused when stored, naming url, rather than failing every delivery.
func TestPartnerURLsNoDeliveryCouldReach(t *testing.T) {
	env := newEnv(t, envOptions{configure: withWebhooks(t)})
	ok := func(url string) map[string]any {
		return map[string]any{"name": "Daily Planet", "url": url, "topics": []string{"world"}}
	}
	tests := []struct {
		url  string
		want int
	}{
		{"https://10.0.0.5/hook", 400},             // private
		{"https://169.254.169.254/latest/", 400},   // cloud metadata
		{"https://[::1]:8443/hook", 400},           // loopback, IPv6
		{"https://[::ffff:192.168.1.2]/hook", 400}, // private, IPv4-mapped
		{"http://planet.example/hook", 400},        // plain http to a host not allowed it
		{"https://planet.example/hook", 201},       // a name: judged when dialled
		{"http://127.0.0.1:9/hook", 201},           // allowed here (FLASHWIRE_WEBHOOK_ALLOW)
		{"https://93.184.215.14/hook", 201},        // a public address
	}
	var created string
	for _, tt := range tests {
		code, body := env.do(t, "POST", "/api/v1/partners", testAdminToken, ok(tt.url))
		if code != tt.want || (tt.want == 400 && fieldsAtFault(body)[0] != "url") {
			t.Errorf("create with %s = %d %v, want %d", tt.url, code, body, tt.want)
		}
		if id, _ := body["id"].(string); id != "" {
			created = id
		}
	}
	code, body := env.do(t, "PATCH", "/api/v1/partners/"+created, testAdminToken, map[string]any{"url": "https://192.168.0.1/"})
	if code != 400 || fieldsAtFault(body)[0] != "url" {
		t.Errorf("patch to a private address = %d %v, want 400 naming url", code, body)
	}
}
