package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire/internal/redistest"
	"flashwire/subscribers"
)

// fakeSecrets issues predictable partner secrets, or fails.
type fakeSecrets struct {
	fail bool
}

func (f *fakeSecrets) Create(_ context.Context, partnerID string) (string, error) {
	if f.fail {
		return "", errors.New("secret store down")
	}
	return "whsec_" + partnerID, nil
}

// newSubscribersEnv is newTestEnv on rdb with partner secrets and an
// allowed widget origin.
func newSubscribersEnv(tb testing.TB, rdb redis.UniversalClient, secrets partnerSecrets) *testEnv {
	tb.Helper()
	return newEnv(tb, envOptions{rdb: rdb, configure: func(_ *testEnv, _ *HubConfig, c *Config) {
		c.AllowedOrigins = []string{"https://news.example"}
		c.PartnerSecrets = secrets
	}})
}

func TestReadersAPI(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		testReadersAPI(t, newSubscribersEnv(t, rdb, nil))
	})
}

func testReadersAPI(t *testing.T, env *testEnv) {
	id := subscribers.NewReaderID()
	path := "/api/v1/readers/" + id + "/preferences"
	prefs := map[string]any{
		"topics":       []string{"world", "politics"},
		"regions":      []string{"uk"},
		"languages":    []string{"en-GB"},
		"min_priority": "urgent",
		"quiet_hours":  map[string]any{"start": "22:00", "end": "07:00", "tz": "Europe/London", "allow_flash": true},
		"paused_until": "2026-12-01T08:00:00Z",
	}
	t.Run("OK", func(t *testing.T) {
		code, body := env.do(t, "PUT", path, "", prefs)
		if code != 201 || body["id"] != id || body["min_priority"] != "urgent" || body["created_at"] == nil {
			t.Fatalf("create = %d %v", code, body)
		}
		code, body = env.do(t, "PUT", path, "", map[string]any{"topics": []string{"sport"}})
		if code != 200 || body["quiet_hours"] != nil {
			t.Fatalf("replace = %d %v", code, body)
		}
		code, body = env.do(t, "GET", path, "", nil)
		if topics, _ := body["topics"].([]any); code != 200 || len(topics) != 1 || topics[0] != "sport" || body["last_seen"] == nil {
			t.Fatalf("get = %d %v", code, body)
		}
	})
	t.Run("no-store", func(t *testing.T) {
		resp, err := env.Client().Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
	})
	t.Run("UUID", func(t *testing.T) {
		code, body := env.do(t, "PUT", "/api/v1/readers/6F9619FF-8B86-D011-B42D-00C04FC964FF/preferences", "", map[string]any{})
		if code != 201 || body["id"] != "6f9619ff8b86d011b42d00c04fc964ff" {
			t.Fatalf("create by UUID = %d %v", code, body)
		}
		if code, _ := env.do(t, "GET", "/api/v1/readers/6f9619ff-8b86-d011-b42d-00c04fc964ff/preferences", "", nil); code != 200 {
			t.Fatalf("get by UUID = %d", code)
		}
	})
	t.Run("issued id", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/readers", "", map[string]any{"topics": []string{"science"}})
		issued, _ := body["id"].(string)
		if code != 201 || len(issued) != 32 {
			t.Fatalf("issue = %d %v", code, body)
		}
		if code, _ := env.do(t, "GET", "/api/v1/readers/"+issued+"/preferences", "", nil); code != 200 {
			t.Fatalf("get issued = %d", code)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name   string
			path   string
			body   any
			want   int
			fields []string
		}{
			// Unknown fields are refused, even inside quiet_hours.
			{"unknown field", path, `{"topics":[],"colour":"red"}`, 400, []string{"colour"}},
			{"unknown nested field", path, `{"quiet_hours":{"start":"22:00","end":"07:00","tz":"UTC","snooze":true}}`, 400, []string{"snooze"}},
			{"bad slug", path, map[string]any{"topics": []string{"World News!"}}, 400, []string{"topics"}},
			{"unknown topic", path, map[string]any{"topics": []string{"gossip"}}, 400, []string{"topics"}},
			{"unknown region", path, map[string]any{"regions": []string{"atlantis"}}, 400, []string{"regions"}},
			{"bad language", path, map[string]any{"languages": []string{"english"}}, 400, []string{"languages"}},
			{"bad priority", path, map[string]any{"min_priority": "loud"}, 400, []string{"min_priority"}},
			{"bad start", path, map[string]any{"quiet_hours": map[string]any{"start": "10pm", "end": "07:00", "tz": "UTC"}}, 400, []string{"quiet_hours.start"}},
			{"bad end", path, map[string]any{"quiet_hours": map[string]any{"start": "22:00", "end": "24:00", "tz": "UTC"}}, 400, []string{"quiet_hours.end"}},
			{"unknown zone", path, map[string]any{"quiet_hours": map[string]any{"start": "22:00", "end": "07:00", "tz": "Europe/Atlantis"}}, 400, []string{"quiet_hours.tz"}},
			{"bad pause", path, map[string]any{"paused_until": "tomorrow"}, 400, []string{"paused_until"}},
			{"wrong type", path, `{"topics":"world"}`, 400, []string{"topics"}},
			// Every field at fault is named at once.
			{"several", path, map[string]any{"topics": []string{"gossip"}, "min_priority": "x", "paused_until": "soon",
				"quiet_hours": map[string]any{"start": "1", "end": "2", "tz": "x"}},
				400, []string{"topics", "min_priority", "quiet_hours.start", "quiet_hours.end", "quiet_hours.tz", "paused_until"}},
			{"not json", path, `{"topics":`, 400, []string{"body"}},
			{"too large", path, `{"topics":["` + strings.Repeat("x", maxBody) + `"]}`, 400, []string{"body"}},
			{"bad id", "/api/v1/readers/not-a-capability/preferences", map[string]any{}, 400, []string{"id"}},
			{"guessable id", "/api/v1/readers/" + strings.Repeat("a", 32) + "/preferences", map[string]any{}, 400, []string{"id"}},
		}
		for _, tt := range tests {
			code, body := env.do(t, "PUT", tt.path, "", tt.body)
			if code != tt.want || !slices.Equal(fieldsAtFault(body), tt.fields) {
				t.Errorf("%s: %d %v, want %d naming %v", tt.name, code, body, tt.want, tt.fields)
			}
		}
		// Nothing of the refused writes reached the reader.
		_, body := env.do(t, "GET", path, "", nil)
		if topics, _ := body["topics"].([]any); len(topics) != 1 || topics[0] != "sport" || body["quiet_hours"] != nil {
			t.Fatalf("reader after refused writes = %v", body)
		}
	})
	t.Run("CORS", func(t *testing.T) {
		for origin, want := range map[string]string{"https://news.example": "https://news.example", "https://evil.example": ""} {
			req, _ := http.NewRequest("OPTIONS", env.URL+path, nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			resp, err := env.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != want {
				t.Errorf("preflight from %s = %d, allow-origin %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	})
	t.Run("delete", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", path, "", nil); code != 204 {
			t.Fatalf("delete = %d", code)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, method := range []string{"GET", "DELETE"} {
			if code, _ := env.do(t, method, path, "", nil); code != 404 {
				t.Errorf("%s after delete = %d, want 404", method, code)
			}
		}
	})
}

func TestReadersRateLimit(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newSubscribersEnv(t, rdb, nil)
	path := "/api/v1/readers/" + subscribers.NewReaderID() + "/preferences"
	for i := range readerBurst {
		if code, _ := env.do(t, "GET", path, "", nil); code != 404 {
			t.Fatalf("request %d = %d, want 404 within the burst", i, code)
		}
	}
	resp, err := env.Client().Get(env.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("request past the burst = %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Editors' routes are not limited by the readers' bucket.
	if code, _ := env.do(t, "GET", "/api/v1/topics", "", nil); code != 200 {
		t.Fatalf("topics while readers are limited = %d", code)
	}
}

func TestIPLimiter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	l := newIPLimiter(2, 1)
	l.now = func() time.Time { return now }
	steps := []struct {
		ip      string
		advance time.Duration
		want    bool
	}{
		{"192.0.2.1", 0, true},
		{"192.0.2.1", 0, true},
		// The burst is spent.
		{"192.0.2.1", 0, false},
		// Another address has its own bucket.
		{"192.0.2.2", 0, true},
		// One token back after a second.
		{"192.0.2.1", time.Second, true},
		{"192.0.2.1", 0, false},
		// Refilling stops at the burst.
		{"192.0.2.1", time.Hour, true},
		{"192.0.2.1", 0, true},
		{"192.0.2.1", 0, false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if got, _ := l.allow(s.ip); got != s.want {
			t.Fatalf("step %d (%s): allow = %v, want %v", i, s.ip, got, s.want)
		}
	}
	now = now.Add(time.Hour)
	l.allow("192.0.2.3")
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets kept; refilled ones must be dropped", len(l.buckets))
	}
}

func TestLimitKey(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"192.0.2.7", "192.0.2.7"},
		// Addresses of one IPv6 /64 share a bucket.
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.7", "::ffff:192.0.2.7"},
		{"not an address", "not an address"},
	}
	for _, tt := range tests {
		if got := limitKey(tt.ip); got != tt.want {
			t.Errorf("limitKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

func TestPartnersAPI(t *testing.T) { eachRedis(t, testPartnersAPI) }

func testPartnersAPI(t *testing.T, rdb redis.UniversalClient) {
	env := newSubscribersEnv(t, rdb, &fakeSecrets{})
	editor := env.newToken(t, "desk", "editor")
	partner := map[string]any{
		"name":         "Daily Planet",
		"url":          "https://planet.example/flashwire",
		"topics":       []string{"world"},
		"regions":      []string{"us"},
		"languages":    []string{"en"},
		"min_priority": "urgent",
		"events":       []string{"alert.published", "alert.retracted"},
		"contact":      "desk@planet.example",
	}
	code, created := env.do(t, "POST", "/api/v1/partners", testAdminToken, partner)
	id, _ := created["id"].(string)
	if code != 201 || id == "" || created["secret"] != "whsec_"+id || created["state"] != "active" {
		t.Fatalf("create = %d %v", code, created)
	}
	path := "/api/v1/partners/" + id

	t.Run("roles", func(t *testing.T) {
		tests := []struct {
			name, method, path, token string
			want                      int
		}{
			{"list without token", "GET", "/api/v1/partners", "", 401},
			// Editors publish alerts but do not manage partners.
			{"list as editor", "GET", "/api/v1/partners", editor, 403},
			{"create as editor", "POST", "/api/v1/partners", editor, 403},
			{"get as editor", "GET", path, editor, 403},
			{"patch as editor", "PATCH", path, editor, 403},
			{"delete as editor", "DELETE", path, editor, 403},
		}
		for _, tt := range tests {
			if code, _ := env.do(t, tt.method, tt.path, tt.token, map[string]any{}); code != tt.want {
				t.Errorf("%s = %d, want %d", tt.name, code, tt.want)
			}
		}
	})
	t.Run("OK", func(t *testing.T) {
		code, body := env.do(t, "GET", "/api/v1/partners", testAdminToken, nil)
		list, _ := body["partners"].([]any)
		if code != 200 || len(list) != 1 {
			t.Fatalf("list = %d %v", code, body)
		}
		if _, leaked := list[0].(map[string]any)["secret"]; leaked {
			t.Fatal("the list shows a secret")
		}
		code, body = env.do(t, "GET", path, testAdminToken, nil)
		if code != 200 || body["url"] != partner["url"] || body["contact"] != partner["contact"] {
			t.Fatalf("get = %d %v", code, body)
		}
	})
	t.Run("patch", func(t *testing.T) {
		code, body := env.do(t, "PATCH", path, testAdminToken, map[string]any{"state": "disabled", "disabled_reason": "endpoint answers 410"})
		if code != 200 || body["state"] != "disabled" || body["disabled_reason"] != "endpoint answers 410" || body["name"] != "Daily Planet" {
			t.Fatalf("disable = %d %v", code, body)
		}
		// An admin re-enables the partner; the reason goes.
		code, body = env.do(t, "PATCH", path, testAdminToken, map[string]any{"state": "active", "topics": []string{}})
		if code != 200 || body["state"] != "active" || body["disabled_reason"] != nil {
			t.Fatalf("re-enable = %d %v", code, body)
		}
		if topics, _ := body["topics"].([]any); len(topics) != 0 {
			t.Fatalf("topics not cleared: %v", body)
		}
		code, body = env.do(t, "PATCH", path, testAdminToken, map[string]any{"state": "asleep", "url": "gopher://x", "events": []string{"alert.viewed"}})
		if want := []string{"url", "events", "state"}; code != 400 || !slices.Equal(fieldsAtFault(body), want) {
			t.Fatalf("bad patch = %d %v, want 400 naming %v", code, body, want)
		}
		if code, _ := env.do(t, "PATCH", path, testAdminToken, `{"id":"pt_other"}`); code != 400 {
			t.Fatalf("patching the id = %d, want 400", code)
		}
		if code, _ := env.do(t, "PATCH", "/api/v1/partners/pt_none", testAdminToken, map[string]any{"name": "x"}); code != 404 {
			t.Fatalf("patch unknown = %d", code)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for key, val := range partner {
				m[key] = val
			}
			m[k] = v
			return m
		}
		tests := []struct {
			name   string
			body   any
			fields []string
		}{
			{"unknown field", `{"name":"a","url":"https://a.example/","secret":"mine"}`, []string{"secret"}},
			{"no name", with("name", " "), []string{"name"}},
			// For now http and https are both accepted; the sender decides at dial time.
			{"bad url", with("url", "javascript:alert(1)"), []string{"url"}},
			{"relative url", with("url", "/hook"), []string{"url"}},
			{"unknown event", with("events", []string{"alert.deleted"}), []string{"events"}},
			{"unknown topic", with("topics", []string{"gossip"}), []string{"topics"}},
			{"bad slug", with("regions", []string{"Middle East"}), []string{"regions"}},
			{"bad language", with("languages", []string{"e"}), []string{"languages"}},
			{"bad priority", with("min_priority", "high"), []string{"min_priority"}},
			{"several", map[string]any{"url": "ftp://x", "min_priority": "high"}, []string{"name", "url", "min_priority"}},
		}
		for _, tt := range tests {
			code, body := env.do(t, "POST", "/api/v1/partners", testAdminToken, tt.body)
			if code != 400 || !slices.Equal(fieldsAtFault(body), tt.fields) {
				t.Errorf("%s: %d %v, want 400 naming %v", tt.name, code, body, tt.fields)
			}
		}
		if _, body := env.do(t, "GET", "/api/v1/partners", testAdminToken, nil); len(body["partners"].([]any)) != 1 {
			t.Fatalf("refused partners were stored: %v", body)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", path, testAdminToken, nil); code != 204 {
			t.Fatalf("delete = %d", code)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, method := range []string{"GET", "DELETE"} {
			if code, _ := env.do(t, method, path, testAdminToken, nil); code != 404 {
				t.Errorf("%s after delete = %d, want 404", method, code)
			}
		}
	})
	t.Run("secret fails", func(t *testing.T) {
		_, rdb := redistest.Start(t)
		env := newSubscribersEnv(t, rdb, &fakeSecrets{fail: true})
		if code, _ := env.do(t, "POST", "/api/v1/partners", testAdminToken, partner); code != 500 {
			t.Fatalf("create without a secret = %d, want 500", code)
		}
		if _, body := env.do(t, "GET", "/api/v1/partners", testAdminToken, nil); len(body["partners"].([]any)) != 0 {
			t.Fatalf("a partner without a secret was kept: %v", body)
		}
	})
	t.Run("no secrets", func(t *testing.T) {
		_, rdb := redistest.Start(t)
		env := newSubscribersEnv(t, rdb, nil)
		code, body := env.do(t, "POST", "/api/v1/partners", testAdminToken, partner)
		if _, ok := body["secret"]; code != 201 || ok {
			t.Fatalf("create without a secret issuer = %d %v", code, body)
		}
	})
}
