package web

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"

	"flashwire/notifier/webpush"
)

// testPushSubscription is a subscription as a browser gives it.
func testPushSubscription(tb testing.TB, endpoint string) map[string]any {
	tb.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	enc := base64.RawURLEncoding
	return map[string]any{"endpoint": endpoint, "expirationTime": nil,
		"keys": map[string]any{"p256dh": enc.EncodeToString(key.PublicKey().Bytes()), "auth": enc.EncodeToString(auth)}}
}

func TestPushRoutes(t *testing.T) {
	var sender *webpush.Sender
	env := newEnv(t, envOptions{configure: func(e *testEnv, _ *HubConfig, c *Config) {
		keys, err := webpush.LoadKeys(context.Background(), e.rdb)
		if err != nil {
			t.Fatal(err)
		}
		sender = webpush.NewSender(e.rdb, e.store, webpush.Options{Keys: keys})
		c.Push = sender
	}})
	const reader = "0123456789abcdef0123456789abcdee"
	path := "/api/v1/readers/" + reader + "/push"
	sub := testPushSubscription(t, "https://push.example.net/send/1")

	t.Run("key", func(t *testing.T) {
		code, body, h := env.send(t, "GET", "/api/v1/push/key", "", nil, nil)
		if code != http.StatusOK || body["public_key"] != sender.PublicKey() || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET key = %d %v", code, body)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if code, body := env.do(t, "POST", path, "", sub); code != http.StatusNotFound {
			t.Fatalf("subscribe for an unknown reader = %d %v", code, body)
		}
	})
	if code, _ := env.do(t, "PUT", "/api/v1/readers/"+reader+"/preferences", "", map[string]any{"topics": []string{"world"}}); code != http.StatusCreated {
		t.Fatal("create reader")
	}
	t.Run("OK", func(t *testing.T) {
		code, body := env.do(t, "POST", path, "", sub)
		if code != http.StatusCreated || body["id"] == "" || body["endpoint"] != sub["endpoint"] {
			t.Fatalf("subscribe = %d %v", code, body)
		}
		// The same browser again replaces its subscription.
		if code, _ := env.do(t, "POST", path, "", testPushSubscription(t, "https://push.example.net/send/1")); code != http.StatusOK {
			t.Fatalf("subscribe again = %d", code)
		}
		code, aud := env.do(t, "GET", "/api/v1/audience?topics=world", env.newToken(t, "ed", "editor"), nil)
		if code != http.StatusOK || aud["push"] != float64(1) || aud["readers"] != float64(1) {
			t.Fatalf("audience = %d %v", code, aud)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			body   any
			fields string
		}{
			// Every field at fault is named.
			{"all bad", map[string]any{"endpoint": "http://push.example.net/x", "keys": map[string]any{"p256dh": "AAAA", "auth": "!"}},
				"endpoint,keys.p256dh,keys.auth"},
			// An internal address is refused before anything is stored.
			{"private", testPushSubscription(t, "https://10.0.0.1/push"), "endpoint"},
			{"IPv4-mapped loopback", testPushSubscription(t, "https://[::ffff:127.0.0.1]/push"), "endpoint"},
			// Credentials in the endpoint are never sent.
			{"credentials", testPushSubscription(t, "https://user:pass@push.example.net/x"), "endpoint"},
			// Fields a PushSubscription does not have.
			{"unknown", map[string]any{"endpoint": "https://push.example.net/x", "keys": map[string]any{}, "extra": 1}, "extra"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, body := env.do(t, "POST", path, "", tt.body)
				if code != http.StatusBadRequest || (tt.fields != "" && fieldNames(body) != tt.fields) {
					t.Fatalf("subscribe = %d %v; want 400 naming %s", code, body, tt.fields)
				}
			})
		}
	})
	t.Run("delete", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", path, "", map[string]any{"endpoint": "https://push.example.net/send/1"}); code != http.StatusNoContent {
			t.Fatalf("delete by endpoint = %d", code)
		}
		if code, _ := env.do(t, "DELETE", path, "", map[string]any{"endpoint": "https://push.example.net/send/1"}); code != http.StatusNotFound {
			t.Fatalf("delete again = %d", code)
		}
		_, body := env.do(t, "POST", path, "", testPushSubscription(t, "https://push.example.net/send/2"))
		id, _ := body["id"].(string)
		if code, _ := env.do(t, "DELETE", path+"/"+id, "", nil); code != http.StatusNoContent {
			t.Fatalf("delete by id = %d", code)
		}
		if code, _ := env.do(t, "DELETE", path, "", map[string]any{}); code != http.StatusBadRequest {
			t.Fatalf("delete without endpoint = %d", code)
		}
	})
}

func TestPushRoutesUnavailable(t *testing.T) {
	env := newEnv(t, envOptions{})
	if code, _ := env.do(t, "GET", "/api/v1/push/key", "", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("GET key without web push = %d", code)
	}
}

// fieldNames lists the fields a 400 names, comma-separated.
func fieldNames(body map[string]any) string {
	out := ""
	fs, _ := body["fields"].([]any)
	for _, f := range fs {
		m, _ := f.(map[string]any)
		if out != "" {
			out += ","
		}
		out += m["field"].(string)
	}
	return out
}
