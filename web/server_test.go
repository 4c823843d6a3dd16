package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fieldsAtFault lists the "field" of each entry of a 400's "fields".
func fieldsAtFault(body map[string]any) []string {
	var out []string
	list, _ := body["fields"].([]any)
	for _, f := range list {
		m, _ := f.(map[string]any)
		name, _ := m["field"].(string)
		out = append(out, name)
	}
	return out
}

func TestHealth(t *testing.T) {
	env := newTestEnv(t)
	if code, _ := env.do(t, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	if code, _ := env.do(t, "GET", "/readyz", "", nil); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	t.Run("metrics", func(t *testing.T) {
		resp, err := env.Client().Get(env.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), `flashwire_http_requests_total{code="200",route="GET /healthz"}`) {
			t.Fatalf("metrics lack the healthz request count:\n%.2000s", raw)
		}
	})
	t.Run("request id", func(t *testing.T) {
		req, _ := http.NewRequest("GET", env.URL+"/healthz", nil)
		req.Header.Set("X-Request-Id", "abc-123")
		resp, err := env.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
			t.Fatalf("X-Request-Id = %q, want the caller's", got)
		}
	})
	t.Run("not ready without redis", func(t *testing.T) {
		env.redis.Stop()
		if code, _ := env.do(t, "GET", "/readyz", "", nil); code != 503 {
			t.Fatalf("readyz with redis down = %d, want 503", code)
		}
		if code, _ := env.do(t, "GET", "/healthz", "", nil); code != 200 {
			t.Fatalf("healthz with redis down = %d, want 200", code)
		}
	})
}

func TestTokens(t *testing.T) {
	env := newTestEnv(t)
	code, body := env.do(t, "POST", "/api/v1/tokens", testAdminToken, map[string]any{"name": "night desk", "role": "editor"})
	if code != 201 {
		t.Fatalf("create = %d %v", code, body)
	}
	editor, _ := body["token"].(string)
	id, _ := body["id"].(string)
	if !strings.HasPrefix(editor, "fw_") || id == "" || body["role"] != "editor" {
		t.Fatalf("create body = %v", body)
	}

	t.Run("stored hashed", func(t *testing.T) {
		all := env.rdb.HGetAll(context.Background(), keyTokens).Val()
		for _, v := range all {
			if strings.Contains(v, editor) {
				t.Fatal("the secret is stored in clear")
			}
		}
	})
	t.Run("list", func(t *testing.T) {
		code, body := env.do(t, "GET", "/api/v1/tokens", testAdminToken, nil)
		list, _ := body["tokens"].([]any)
		if code != 200 || len(list) != 1 {
			t.Fatalf("list = %d %v", code, body)
		}
		if _, leaked := list[0].(map[string]any)["token"]; leaked {
			t.Fatal("list shows a secret")
		}
	})
	t.Run("roles", func(t *testing.T) {
		tests := []struct {
			name, token string
			want        int
		}{
			// No header at all.
			{"no token", "", 401},
			{"wrong token", "fw_nope", 401},
			// An editor may publish but not manage tokens.
			{"editor", editor, 403},
			{"admin", testAdminToken, 200},
		}
		for _, tt := range tests {
			if code, _ := env.do(t, "GET", "/api/v1/tokens", tt.token, nil); code != tt.want {
				t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
			}
		}
	})
	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name   string
			body   any
			want   int
			fields []string
		}{
			{"missing name", map[string]any{"role": "editor"}, 400, []string{"name"}},
			{"bad role", map[string]any{"name": "x", "role": "owner"}, 400, []string{"role"}},
			{"both", map[string]any{"role": "root"}, 400, []string{"name", "role"}},
			// Unknown fields are refused, not ignored.
			{"unknown field", `{"name":"x","role":"editor","scope":"all"}`, 400, []string{"scope"}},
			{"wrong type", `{"name":5,"role":"editor"}`, 400, []string{"name"}},
			{"not json", `{"name":`, 400, []string{"body"}},
			{"empty", ``, 400, []string{"body"}},
			{"two objects", `{"name":"a","role":"editor"}{}`, 400, []string{"body"}},
			{"too large", `{"name":"` + strings.Repeat("x", maxBody) + `"}`, 400, []string{"body"}},
			// Every unknown field is named, not just the first.
			{"unknown fields", `{"name":"x","role":"editor","scope":"all","colour":"red"}`, 400, []string{"colour", "scope"}},
		}
		for _, tt := range tests {
			code, body := env.do(t, "POST", "/api/v1/tokens", testAdminToken, tt.body)
			if code != tt.want || strings.Join(fieldsAtFault(body), ",") != strings.Join(tt.fields, ",") {
				t.Errorf("%s: %d %v, want %d naming %v", tt.name, code, body, tt.want, tt.fields)
			}
		}
	})
	t.Run("revoke", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", "/api/v1/tokens/"+id, testAdminToken, nil); code != 204 {
			t.Fatalf("revoke = %d", code)
		}
		if code, _ := env.do(t, "POST", "/api/v1/alerts", editor, map[string]any{}); code != 401 {
			t.Fatalf("revoked token still accepted: %d", code)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/tokens/"+id, testAdminToken, nil); code != 404 {
			t.Fatalf("second revoke = %d, want 404", code)
		}
	})
}

func TestAlertCreate(t *testing.T) {
	env := newTestEnv(t)
	_, body := env.do(t, "POST", "/api/v1/tokens", testAdminToken, map[string]any{"name": "desk", "role": "editor"})
	editor := body["token"].(string)
	alert := map[string]any{
		"headline": "Putin, Trump Agree To Joint Efforts Against IS In Syria",
		"summary":  "A joint statement was approved on the sidelines of the APEC summit in Vietnam.",
		"url":      "https://news.example.com/a/28848563.html",
		"topics":   []string{"world", "politics"},
		"regions":  []string{"international"},
		"language": "en",
		"priority": "flash",
	}
	t.Run("OK", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts", editor, alert)
		if code != 201 || body["id"] == "" || body["published_at"] == nil {
			t.Fatalf("publish = %d %v", code, body)
		}
		code, got := env.do(t, "GET", "/api/v1/alerts/"+body["id"].(string), editor, nil)
		if code != 200 || got["headline"] != alert["headline"] {
			t.Fatalf("get = %d %v", code, got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if code, _ := env.do(t, "GET", "/api/v1/alerts/1-0", editor, nil); code != 404 {
			t.Fatalf("get unknown = %d", code)
		}
	})
	t.Run("invalid fields", func(t *testing.T) {
		bad := map[string]any{"headline": "", "url": "javascript:x", "topics": []string{"gossip"}, "priority": "loud"}
		code, body := env.do(t, "POST", "/api/v1/alerts", editor, bad)
		want := "headline,url,topics,priority"
		if code != 400 || strings.Join(fieldsAtFault(body), ",") != want {
			t.Fatalf("invalid alert = %d %v, want 400 naming %s", code, body, want)
		}
		if n := env.rdb.XLen(context.Background(), "flashwire:v1:{alerts}:log").Val(); n != 1 {
			t.Fatalf("log holds %d events; a refused alert must write nothing", n)
		}
	})
	t.Run("no token", func(t *testing.T) {
		if code, _ := env.do(t, "POST", "/api/v1/alerts", "", alert); code != 401 {
			t.Fatalf("publish without token = %d", code)
		}
	})
}

func TestPages(t *testing.T) {
	env := newTestEnv(t)
	resp, err := env.Client().Get(env.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "Putin, Trump Agree To Joint Efforts Against IS In Syria") {
		t.Fatalf("demo page = %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("demo page CSP = %q", csp)
	}
	if code, _ := env.do(t, "GET", "/no/such/page", "", nil); code != 404 {
		t.Fatalf("unknown path = %d", code)
	}
}

// TestNoRoute checks what a request no route takes gets: 405 with Allow
// when its path has routes for other methods, 404 otherwise, both JSON.
func TestNoRoute(t *testing.T) {
	env := newTestEnv(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/api/v1/alerts", 405, "GET, HEAD, POST"},                               // a wrong method on a collection
		{"PUT", "/api/v1/alerts/1-0", 405, "GET, HEAD"},                                    // on an item
		{"POST", "/healthz", 405, "GET, HEAD"},                                             // on an operations route
		{"PATCH", "/api/v1/readers/x/preferences", 405, "DELETE, GET, HEAD, OPTIONS, PUT"}, // the anonymous routes too
		{"POST", "/", 405, "GET, HEAD"},                                                    // the demo page
		{"GET", "/no/such/page", 404, ""},                                                  // no route at all
		{"POST", "/api/v2/alerts", 404, ""},                                                // whatever the method
	}
	for _, tt := range tests {
		resp, raw := env.request(t, tt.method, tt.path, "", nil, nil)
		var body errorBody
		if err := json.Unmarshal(raw, &body); err != nil || body.Error == "" {
			t.Errorf("%s %s: body %q is not a JSON error", tt.method, tt.path, raw)
		}
		if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d, Allow %q; want %d, Allow %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.status, tt.allow)
		}
	}
}
