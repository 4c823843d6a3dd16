package web

import (
	"strings"
	"testing"

	"flashwire/subscribers"
)

// TestStoreUnavailable stops the instance's Redis and checks that every
// kind of request that needs it (the token look-up first of all) answers
// 503 with Retry-After and a message that says the store is unavailable
// and nothing about where or how it failed.
func TestStoreUnavailable(t *testing.T) {
	env := newEnv(t, envOptions{hub: true, stats: true})
	editor := env.newToken(t, "night desk", "editor")
	reader := "/api/v1/readers/" + subscribers.NewReaderID() + "/preferences"
	env.redis.Stop()
	tests := []struct {
		name, method, path, token string
		body                      any
	}{
		// A stored token cannot be looked up.
		{"token look-up", "GET", "/api/v1/alerts", editor, nil},
		{"token look-up on publish", "POST", "/api/v1/alerts", editor, map[string]any{"headline": "Quake", "url": "https://news.example/q", "topics": []string{"world"}}},
		// The bootstrap token needs no look-up; the publish itself fails.
		{"publish", "POST", "/api/v1/alerts", testAdminToken, map[string]any{"headline": "Quake", "url": "https://news.example/q", "topics": []string{"world"}}},
		{"partners", "GET", "/api/v1/partners", testAdminToken, nil},
		// Anonymous routes.
		{"topics", "GET", "/api/v1/topics", "", nil},
		{"preferences", "PUT", reader, "", map[string]any{"topics": []string{"world"}}},
		{"live reader", "GET", "/events?reader=" + subscribers.NewReaderID(), "", nil},
		{"live topics", "GET", "/events?topics=world", "", nil},
		// Signing in to the console.
		{"sign-in", "POST", "/editor/session", "", map[string]any{"token": editor}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := env.request(t, tt.method, tt.path, tt.token, tt.body, nil)
			body := string(raw)
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "the data store is unavailable") {
				t.Fatalf("= %d, Retry-After %q, %s; want 503, 2 s and the store named", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			for _, leak := range []string{"127.0.0.1", "dial", "redis:", "refused", "look up"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer shows %q: %s", leak, body)
				}
			}
		})
	}
	if code, _ := env.do(t, "GET", "/healthz", "", nil); code != 200 {
		t.Errorf("healthz = %d: the process is alive", code)
	}
}
