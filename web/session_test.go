package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
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
			// The service's host over another scheme is another origin.
			{"other scheme", map[string]string{csrfHeader: csrf, "Origin": strings.Replace(env.URL, "http://", "https://", 1)}, 403},
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

// TestWrongTokens presents wrong tokens, as an API call's bearer token and
// as a console sign-in, from one address behind a trusted proxy: each is a
// 401 recorded in the audit log without the token, and past signInBurst
// the address gets 429 with Retry-After, even with a right token, while
// another address is not affected.
func TestWrongTokens(t *testing.T) {
	env := newEnv(t, envOptions{configure: func(_ *testEnv, _ *HubConfig, c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}})
	editor := env.newToken(t, "night desk", "editor")
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	// The scheme's name is compared without regard to case.
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		code, _, _ := env.send(t, "GET", "/api/v1/alerts", "", nil, map[string]string{"Authorization": scheme + " " + editor})
		if code != 200 {
			t.Errorf("%s scheme = %d, want 200", scheme, code)
		}
	}
	const wrong = "fw_this-is-not-a-token-but-might-be-a-typo-of-one"
	for i := range signInBurst {
		var code int
		if i%2 == 0 {
			code, _, _ = env.send(t, "GET", "/api/v1/alerts", wrong, nil, from("203.0.113.7"))
		} else {
			code, _, _ = env.send(t, "POST", "/editor/session", "", map[string]any{"token": wrong}, from("203.0.113.7"))
		}
		if code != 401 {
			t.Fatalf("wrong token %d = %d, want 401", i, code)
		}
	}
	for _, token := range []string{wrong, editor} {
		code, body, h := env.send(t, "GET", "/api/v1/alerts", token, nil, from("203.0.113.7"))
		if code != 429 || h.Get("Retry-After") == "" {
			t.Errorf("past the limit = %d %v, Retry-After %q; want 429 with a wait", code, body, h.Get("Retry-After"))
		}
	}
	if code, _, _ := env.send(t, "GET", "/api/v1/alerts", editor, nil, from("198.51.100.1")); code != 200 {
		t.Errorf("another address = %d, want 200", code)
	}
	// A request with no credential at all is no failed sign-in.
	if code, _, _ := env.send(t, "GET", "/api/v1/alerts", "", nil, from("198.51.100.1")); code != 401 {
		t.Errorf("no token = %d, want 401", code)
	}

	raw := ""
	for _, m := range env.rdb.XRange(context.Background(), "flashwire:v1:{audit}:log", "-", "+").Val() {
		raw += fmt.Sprint(m.Values)
	}
	if strings.Contains(raw, wrong) || strings.Contains(raw, editor) {
		t.Fatal("the audit log holds a presented token")
	}
	_, body := env.do(t, "GET", "/api/v1/audit?limit=100", editor, nil)
	failed := map[string]int{}
	for _, e := range body["entries"].([]any) {
		m := e.(map[string]any)
		if m["status"] == float64(401) {
			if m["client"] != "203.0.113.7" || m["token_name"] != "" {
				t.Errorf("failed sign-in entry %v, want the address and no token", m)
			}
			failed[m["action"].(string)]++
		}
	}
	if failed["GET /api/v1/alerts"] != signInBurst/2 || failed["POST /editor/session"] != signInBurst/2 {
		t.Errorf("failed sign-ins in the audit log by route: %v, want %d each", failed, signInBurst/2)
	}
}
