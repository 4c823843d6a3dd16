package web

import (
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"flashwire/subscribers"
)

func TestAudienceAPI(t *testing.T) { eachRedis(t, testAudienceAPI) }

func testAudienceAPI(t *testing.T, rdb redis.UniversalClient) {
	env := newSubscribersEnv(t, rdb, nil)
	editor := env.newToken(t, "desk", "editor")
	readers := []map[string]any{
		{"topics": []string{"world"}, "regions": []string{"europe"}},
		{"topics": []string{"world"}, "min_priority": "flash"},
		{"topics": []string{"sport"}},
		{},
		{"languages": []string{"fr"}},
	}
	for _, p := range readers {
		if code, body := env.do(t, "PUT", "/api/v1/readers/"+subscribers.NewReaderID()+"/preferences", "", p); code != 201 {
			t.Fatalf("create reader = %d %v", code, body)
		}
	}
	for _, p := range []map[string]any{
		{"name": "a", "url": "https://a.example/", "topics": []string{"world"}},
		{"name": "b", "url": "https://b.example/", "topics": []string{"sport"}},
	} {
		if code, body := env.do(t, "POST", "/api/v1/partners", testAdminToken, p); code != 201 {
			t.Fatalf("create partner = %d %v", code, body)
		}
	}
	tests := []struct {
		name     string
		query    string
		code     int
		readers  float64
		partners float64
		fields   []string
	}{
		// World in Europe, urgent, English: the world-in-europe reader and the one with no filters.
		{"urgent", "topics=world&regions=europe&priority=urgent", 200, 2, 1, nil},
		// Flash also reaches the reader who wants only flash.
		{"flash", "topics=World,politics&regions=europe&priority=flash&language=en-GB", 200, 3, 1, nil},
		{"french", "topics=sport&language=fr", 200, 3, 1, nil},
		{"nothing named", "", 200, 1, 0, nil},
		{"unknown topic", "topics=gossip", 400, 0, 0, []string{"topics"}},
		{"bad region", "regions=Latin%20America", 400, 0, 0, []string{"regions"}},
		{"bad priority", "priority=loud", 400, 0, 0, []string{"priority"}},
		{"bad language", "language=english", 400, 0, 0, []string{"language"}},
		{"unknown parameter", "topic=world&when=now", 400, 0, 0, []string{"topic", "when"}},
	}
	for _, tt := range tests {
		code, body := env.do(t, "GET", "/api/v1/audience?"+tt.query, editor, nil)
		if code != tt.code || !slices.Equal(fieldsAtFault(body), tt.fields) {
			t.Errorf("%s: %d %v, want %d naming %v", tt.name, code, body, tt.code, tt.fields)
			continue
		}
		if code == 200 && (body["readers"] != tt.readers || body["partners"] != tt.partners) {
			t.Errorf("%s: %v, want %v readers and %v partners", tt.name, body, tt.readers, tt.partners)
		}
	}
	if code, _ := env.do(t, "GET", "/api/v1/audience?topics=world", "", nil); code != 401 {
		t.Fatalf("audience without token = %d", code)
	}
}
