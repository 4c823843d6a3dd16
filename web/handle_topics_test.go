package web

import "testing"

// TestTopicListCORS checks that a page on another site, where the reader
// widget is embedded, may read the public topic list, and only that: the
// admin route that changes it stays same-origin.
func TestTopicListCORS(t *testing.T) {
	env := newTestEnv(t)
	cross := map[string]string{"Origin": "https://partner.example.org"}

	code, body, h := env.send(t, "GET", "/api/v1/topics", "", nil, cross)
	if code != 200 || body["topics"] == nil {
		t.Fatalf("GET /api/v1/topics = %d %v", code, body)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("GET /api/v1/topics Access-Control-Allow-Origin = %q, want *", got)
	}

	code, _, h = env.send(t, "POST", "/api/v1/topics", testAdminToken, map[string]any{"topics": []string{"space"}}, cross)
	if code != 200 {
		t.Fatalf("POST /api/v1/topics = %d", code)
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("POST /api/v1/topics Access-Control-Allow-Origin = %q, want none", got)
	}
}
