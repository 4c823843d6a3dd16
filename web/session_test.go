package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

func TestEditorSession(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	call := func(t *testing.T, method, path string, body any, header map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			buf, _ := json.Marshal(body)
			rd = bytes.NewReader(buf)
		}
		req, _ := http.NewRequest(method, env.URL+path, rd)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	t.Run("bad token", func(t *testing.T) {
		if resp, _ := call(t, "POST", "/editor/session", map[string]any{"token": "fw_nope"}, nil); resp.StatusCode != 401 {
			t.Fatalf("= %d", resp.StatusCode)
		}
	})
	resp, info := call(t, "POST", "/editor/session", map[string]any{"token": env.editor}, nil)
	if resp.StatusCode != 201 || info["name"] != "night desk" || info["csrf_token"] == "" {
		t.Fatalf("sign in = %d %v", resp.StatusCode, info)
	}
	csrf := info["csrf_token"].(string)
	t.Run("cookie", func(t *testing.T) {
		c := resp.Cookies()
		if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Secure || c[0].Path != "/" {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over http", c)
		}
		keys := env.rdb.Keys(context.Background(), "flashwire:v1:{sessions}:*").Val()
		if len(keys) != 1 || strings.Contains(keys[0], c[0].Value) {
			t.Fatalf("session keys %v: want one, hashed", keys)
		}
	})
	t.Run("secure behind https", func(t *testing.T) {
		code, _, h := env.send(t, "POST", "/editor/session", "", map[string]any{"token": env.editor}, map[string]string{"X-Forwarded-Proto": "https"})
		c := (&http.Response{Header: h}).Cookies()
		if code != 201 || len(c) != 1 || !c[0].Secure || !c[0].HttpOnly {
			t.Fatalf("= %d, cookie %+v: want Secure when served over https", code, c)
		}
	})
	t.Run("reads", func(t *testing.T) {
		if resp, body := call(t, "GET", "/api/v1/alerts", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("list with cookie = %d %v", resp.StatusCode, body)
		}
		if resp, body := call(t, "GET", "/editor/session", nil, nil); resp.StatusCode != 200 || body["csrf_token"] != csrf {
			t.Fatalf("session = %d %v", resp.StatusCode, body)
		}
	})
	t.Run("csrf", func(t *testing.T) {
		tests := []struct {
			name   string
			header map[string]string
			want   int
		}{
			// No CSRF header: refused.
			{"no header", nil, 403},
			// A wrong one: refused.
			{"wrong header", map[string]string{csrfHeader: "x"}, 403},
			// The right one from another origin: refused.
			{"cross origin", map[string]string{csrfHeader: csrf, "Origin": "https://evil.example"}, 403},
			// The right one, same origin: accepted.
			{"OK", map[string]string{csrfHeader: csrf, "Origin": env.URL}, 201},
		}
		for i, tt := range tests {
			resp, body := call(t, "POST", "/api/v1/alerts", story(i), tt.header)
			if resp.StatusCode != tt.want {
				t.Errorf("%s: %d %v, want %d", tt.name, resp.StatusCode, body, tt.want)
			}
		}
		_, body := env.do(t, "GET", "/api/v1/audit?limit=1", env.editor, nil)
		if e := body["entries"].([]any)[0].(map[string]any); e["token_name"] != "night desk" || e["status"] != float64(201) {
			t.Fatalf("cookie action audited as %v", e)
		}
	})
	t.Run("sign out", func(t *testing.T) {
		if resp, _ := call(t, "DELETE", "/editor/session", nil, nil); resp.StatusCode != 403 {
			t.Fatalf("sign out without csrf = %d", resp.StatusCode)
		}
		if resp, _ := call(t, "DELETE", "/editor/session", nil, map[string]string{csrfHeader: csrf}); resp.StatusCode != 204 {
			t.Fatalf("sign out = %d", resp.StatusCode)
		}
		if resp, _ := call(t, "GET", "/api/v1/alerts", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("after sign out = %d", resp.StatusCode)
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		tok := env.newToken(t, "temp", "editor")
		call(t, "POST", "/editor/session", map[string]any{"token": tok}, nil)
		_, list := env.do(t, "GET", "/api/v1/tokens", testAdminToken, nil)
		for _, x := range list["tokens"].([]any) {
			if m := x.(map[string]any); m["name"] == "temp" {
				env.do(t, "DELETE", "/api/v1/tokens/"+m["id"].(string), testAdminToken, nil)
			}
		}
		if resp, _ := call(t, "GET", "/api/v1/alerts", nil, nil); resp.StatusCode != 401 {
			t.Fatalf("session of a revoked token = %d, want 401", resp.StatusCode)
		}
	})
}
