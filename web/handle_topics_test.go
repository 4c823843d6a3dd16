package web

import (
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"flashwire/subscribers"
)

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

func TestTopicsAPI(t *testing.T) { eachRedis(t, testTopicsAPI) }

func testTopicsAPI(t *testing.T, rdb redis.UniversalClient) {
	env := newSubscribersEnv(t, rdb, nil)
	editor := env.newToken(t, "desk", "editor")

	code, body := env.do(t, "GET", "/api/v1/topics", "", nil)
	topics, _ := body["topics"].([]any)
	regions, _ := body["regions"].([]any)
	if code != 200 || len(topics) != len(subscribers.DefaultTopics) || len(regions) != len(subscribers.DefaultRegions) {
		t.Fatalf("list = %d %v", code, body)
	}
	t.Run("add", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/topics", testAdminToken, map[string]any{"topics": []string{"space"}, "regions": []string{"oceania"}})
		if code != 200 || !slices.Contains(body["topics"].([]any), any("space")) || !slices.Contains(body["regions"].([]any), any("oceania")) {
			t.Fatalf("add = %d %v", code, body)
		}
		if code, _ := env.do(t, "PUT", "/api/v1/readers/"+subscribers.NewReaderID()+"/preferences", "", map[string]any{"topics": []string{"space"}}); code != 201 {
			t.Fatalf("reader with the new topic = %d", code)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			name   string
			body   any
			fields []string
		}{
			{"bad slugs", map[string]any{"topics": []string{"Space Race"}, "regions": []string{"--"}}, []string{"topics", "regions"}},
			{"nothing", map[string]any{}, []string{"topics"}},
			{"unknown field", `{"sections":["x"]}`, []string{"sections"}},
		}
		for _, tt := range tests {
			code, body := env.do(t, "POST", "/api/v1/topics", testAdminToken, tt.body)
			if code != 400 || !slices.Equal(fieldsAtFault(body), tt.fields) {
				t.Errorf("%s: %d %v, want 400 naming %v", tt.name, code, body, tt.fields)
			}
		}
	})
	t.Run("roles", func(t *testing.T) {
		if code, _ := env.do(t, "POST", "/api/v1/topics", editor, map[string]any{"topics": []string{"x"}}); code != 403 {
			t.Errorf("add as editor = %d", code)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/topics/space", "", nil); code != 401 {
			t.Errorf("delete without token = %d", code)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", "/api/v1/topics/space", testAdminToken, nil); code != 204 {
			t.Fatalf("delete topic = %d", code)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/regions/oceania", testAdminToken, nil); code != 204 {
			t.Fatalf("delete region = %d", code)
		}
		code, body := env.do(t, "PUT", "/api/v1/readers/"+subscribers.NewReaderID()+"/preferences", "", map[string]any{"topics": []string{"space"}})
		if code != 400 || !slices.Equal(fieldsAtFault(body), []string{"topics"}) {
			t.Fatalf("reader naming a removed topic = %d %v", code, body)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if code, _ := env.do(t, "DELETE", "/api/v1/topics/space", testAdminToken, nil); code != 404 {
			t.Errorf("delete removed topic = %d", code)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/regions/space", testAdminToken, nil); code != 404 {
			t.Errorf("delete topic as region = %d", code)
		}
	})
}
