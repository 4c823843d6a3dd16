package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// testClock is a settable clock for Service.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// alertEnv is a server with delivery figures and a clock for the alert
// service, and an editor token.
type alertEnv struct {
	*testEnv
	clock  *testClock
	editor string
}

type alertEnvOptions struct {
	minGap time.Duration
	hub    bool
}

func newAlertEnv(tb testing.TB, opts alertEnvOptions) *alertEnv {
	tb.Helper()
	clock := &testClock{t: time.Now().UTC().Truncate(time.Millisecond)}
	env := &alertEnv{clock: clock}
	env.testEnv = newEnv(tb, envOptions{stats: true, hub: opts.hub, configure: func(e *testEnv, _ *HubConfig, _ *Config) {
		e.alerts.Now = clock.Now
		e.alerts.MinGap = opts.minGap
	}})
	env.editor = env.newToken(tb, "night desk", "editor")
	return env
}

func (e *alertEnv) logLen(tb testing.TB) int64 {
	tb.Helper()
	return e.rdb.XLen(context.Background(), "flashwire:v1:{alerts}:log").Val()
}

// story returns a valid alert body; n makes its url unique.
func story(n int) map[string]any {
	return map[string]any{
		"headline": "Putin, Trump Agree To Joint Efforts Against IS In Syria",
		"summary":  "A joint statement was approved on the sidelines of the APEC summit in Vietnam.",
		"url":      fmt.Sprintf("https://news.example.com/a/%d.html", n),
		"topics":   []string{"world", "politics"},
		"regions":  []string{"international"},
		"language": "en",
		"priority": "urgent",
	}
}

// with returns a copy of m with the given fields replaced; a nil value
// removes the field.
func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestAlertFieldRules(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	topics21 := make([]string, 21)
	for i := range topics21 {
		topics21[i] = fmt.Sprintf("t%d", i)
	}
	tests := []struct {
		name   string
		body   map[string]any
		want   int
		fields []string
	}{
		// Every field at its limit is fine.
		{"OK at limits", with(story(1), "headline", strings.Repeat("é", 140), "summary", strings.Repeat("s", 400)), 201, nil},
		// Only headline, url and one topic are required.
		{"OK minimal", map[string]any{"headline": "Quake", "url": "http://x.example/q", "topics": []string{"science"}}, 201, nil},
		// headline is required...
		{"headline missing", with(story(2), "headline", nil), 400, []string{"headline"}},
		// ...and blank counts as missing...
		{"headline blank", with(story(2), "headline", "   "), 400, []string{"headline"}},
		// ...and has at most 140 characters (not bytes).
		{"headline long", with(story(2), "headline", strings.Repeat("é", 141)), 400, []string{"headline"}},
		// summary has at most 400 characters.
		{"summary long", with(story(2), "summary", strings.Repeat("s", 401)), 400, []string{"summary"}},
		// url is required, absolute, http or https.
		{"url missing", with(story(2), "url", nil), 400, []string{"url"}},
		{"url scheme", with(story(2), "url", "javascript:alert(1)"), 400, []string{"url"}},
		{"url relative", with(story(2), "url", "/a/1.html"), 400, []string{"url"}},
		// image_url, when given, too.
		{"image_url scheme", with(story(2), "image_url", "ftp://x.example/i.jpg"), 400, []string{"image_url"}},
		// topics: 1 to 20, each known.
		{"topics empty", with(story(2), "topics", []string{}), 400, []string{"topics"}},
		{"topics 21", with(story(2), "topics", topics21), 400, append([]string{"topics"}, repeat("topics", 21)...)},
		{"topic unknown", with(story(2), "topics", []string{"world", "gossip"}), 400, []string{"topics"}},
		// regions must be known.
		{"region unknown", with(story(2), "regions", []string{"atlantis"}), 400, []string{"regions"}},
		// language is a BCP 47 tag.
		{"language", with(story(2), "language", "english!"), 400, []string{"language"}},
		// priority is one of three.
		{"priority", with(story(2), "priority", "breaking"), 400, []string{"priority"}},
		// send_at must lie ahead.
		{"send_at past", with(story(2), "send_at", time.Now().Add(-time.Hour).Format(time.RFC3339)), 400, []string{"send_at"}},
		// A malformed send_at is named, in words.
		{"send_at malformed", with(story(2), "send_at", "tomorrow 9am"), 400, []string{"send_at"}},
		{"send_at number", with(story(2), "send_at", 1767000000), 400, []string{"send_at"}},
		// Text that hides what it says is refused, whatever the field.
		{"headline NUL", with(story(2), "headline", "Quake\u0000"), 400, []string{"headline"}},
		{"headline override", with(story(2), "headline", "Quake \u202Eenoz"), 400, []string{"headline"}},
		{"summary control", with(story(2), "summary", "ding\u0007"), 400, []string{"summary"}},
		// Wrong JSON types and unknown fields are named.
		{"wrong type", with(story(2), "topics", "world"), 400, []string{"topics"}},
		{"unknown field", with(story(2), "body", "x"), 400, []string{"body"}},
		// Every field at fault is named at once.
		{"several", map[string]any{"headline": "", "url": "x", "topics": []string{}, "priority": "x", "language": "1"}, 400,
			[]string{"headline", "url", "topics", "language", "priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.logLen(t)
			code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, tt.body)
			if code != tt.want || strings.Join(fieldsAtFault(body), ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("= %d %v, want %d naming %v", code, body, tt.want, tt.fields)
			}
			if code == 201 {
				if id, _ := body["id"].(string); !flashwire.ValidEventID(id) || body["published_at"] == nil {
					t.Fatalf("created alert lacks id or published_at: %v", body)
				}
			} else if env.logLen(t) != before {
				t.Fatal("a refused alert was written to the log")
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestAlertRoles(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	admin := env.newToken(t, "ops", "admin")
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		// No token, a made-up token, a malformed header: 401.
		{"no token", "POST", "/api/v1/alerts", "", 401},
		{"bad token", "POST", "/api/v1/alerts", "fw_nope", 401},
		{"no token list", "GET", "/api/v1/alerts", "", 401},
		{"no token audit", "GET", "/api/v1/audit", "", 401},
		// Editors and admins both publish.
		{"editor", "POST", "/api/v1/alerts", env.editor, 201},
		{"admin", "POST", "/api/v1/alerts", admin, 201},
		// Editors may not manage tokens: 403.
		{"editor on tokens", "GET", "/api/v1/tokens", env.editor, 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.do(t, tt.method, tt.path, tt.token, with(story(100+i)))
			if tt.method == "GET" {
				code, body = env.do(t, tt.method, tt.path, tt.token, nil)
			}
			if code != tt.want {
				t.Fatalf("= %d %v, want %d", code, body, tt.want)
			}
		})
	}
	t.Run("malformed header", func(t *testing.T) {
		code, _, h := env.send(t, "POST", "/api/v1/alerts", "", story(1), map[string]string{"Authorization": "Basic eDp5"})
		if code != 401 || h.Get("WWW-Authenticate") == "" {
			t.Fatalf("= %d, want 401 with WWW-Authenticate", code)
		}
	})
}

func TestAlertDryRun(t *testing.T) {
	for _, hub := range []bool{true, false} {
		t.Run(fmt.Sprintf("hub=%v", hub), func(t *testing.T) {
			env := newAlertEnv(t, alertEnvOptions{hub: hub})
			code, body := env.do(t, "POST", "/api/v1/alerts?dry_run=true", env.editor, story(1))
			if code != 200 || body["dry_run"] != true {
				t.Fatalf("dry run = %d %v", code, body)
			}
			aud, _ := body["audience"].(map[string]any)
			if _, ok := aud["online"]; !ok {
				t.Fatalf("audience %v lacks online", aud)
			}
			if hub && aud["online"] != float64(0) {
				t.Fatalf("online = %v with an empty hub, want 0", aud["online"])
			}
			if !hub && aud["online"] != nil {
				t.Fatalf("online = %v without a hub, want null", aud["online"])
			}
			// readers and partners are counts once the store counts
			// audiences, null before: the keys are always there.
			for _, k := range []string{"readers", "partners"} {
				if _, ok := aud[k]; !ok {
					t.Fatalf("audience %v lacks %s", aud, k)
				}
			}
			if n := env.logLen(t); n != 0 {
				t.Fatalf("a dry run wrote %d events", n)
			}
			code, body = env.do(t, "POST", "/api/v1/alerts?dry_run=true", env.editor, with(story(1), "headline", ""))
			if code != 400 || strings.Join(fieldsAtFault(body), ",") != "headline" {
				t.Fatalf("invalid dry run = %d %v, want 400 naming headline", code, body)
			}
		})
	}
}

func TestAlertIdempotency(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	key := map[string]string{"Idempotency-Key": "desk-2026-11-26-001"}
	code, first, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(1), key)
	if code != 201 {
		t.Fatalf("first = %d %v", code, first)
	}
	t.Run("OK replayed", func(t *testing.T) {
		code, again, h := env.send(t, "POST", "/api/v1/alerts", env.editor, story(1), key)
		if code != 201 || again["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %d %v (%v), want 201 with id %v", code, again, h, first["id"])
		}
		if n := env.logLen(t); n != 1 {
			t.Fatalf("log holds %d events after a replay, want 1", n)
		}
	})
	t.Run("other body", func(t *testing.T) {
		if code, body, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(2), key); code != 422 {
			t.Fatalf("same key, other body = %d %v, want 422", code, body)
		}
	})
	t.Run("other token", func(t *testing.T) {
		other := env.newToken(t, "day desk", "editor")
		code, body, _ := env.send(t, "POST", "/api/v1/alerts", other, with(story(1), "force", true), key)
		if code != 201 || body["id"] == first["id"] {
			t.Fatalf("another token's key = %d %v, want a new alert", code, body)
		}
	})
	t.Run("failure not kept", func(t *testing.T) {
		k := map[string]string{"Idempotency-Key": "dup-then-force"}
		if code, _, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(1), k); code != 409 {
			t.Fatalf("duplicate = %d, want 409", code)
		}
		// The 409 was not stored: once the duplicate is gone, the same
		// request with the same key is tried again.
		env.clock.Advance(notifier.DuplicateWindow + time.Second)
		if code, body, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(1), k); code != 201 {
			t.Fatalf("retry after the window = %d %v, want 201", code, body)
		}
	})
	t.Run("fixed after a 400", func(t *testing.T) {
		k := map[string]string{"Idempotency-Key": "fix-and-resend"}
		if code, _, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, with(story(7), "url", "nope"), k); code != 400 {
			t.Fatalf("bad url = %d, want 400", code)
		}
		if code, body, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(7), k); code != 201 {
			t.Fatalf("corrected request, same key = %d %v, want 201", code, body)
		}
	})
	t.Run("key too long", func(t *testing.T) {
		k := map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}
		code, body, _ := env.send(t, "POST", "/api/v1/alerts", env.editor, story(9), k)
		if code != 400 || strings.Join(fieldsAtFault(body), ",") != "Idempotency-Key" {
			t.Fatalf("= %d %v", code, body)
		}
	})
}

func TestAlertDuplicate(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	_, first := env.do(t, "POST", "/api/v1/alerts", env.editor, story(1))
	env.clock.Advance(9 * time.Minute)
	t.Run("ErrDuplicate", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(1), "headline", "putin, trump agree to joint efforts against IS in Syria"))
		existing, _ := body["existing"].(map[string]any)
		if code != 409 || existing["id"] != first["id"] {
			t.Fatalf("= %d %v, want 409 with the existing alert %v", code, body, first["id"])
		}
	})
	t.Run("force", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(1), "force", true))
		if code != 201 || body["id"] == first["id"] {
			t.Fatalf("forced = %d %v", code, body)
		}
	})
	t.Run("other story", func(t *testing.T) {
		if code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, story(2)); code != 201 {
			t.Fatalf("= %d %v", code, body)
		}
	})
}

func TestAlertMinGap(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{minGap: 5 * time.Minute})
	if code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(1), "priority", "normal")); code != 201 {
		t.Fatalf("first = %d %v", code, body)
	}
	env.clock.Advance(2 * time.Minute)
	t.Run("ErrTooSoon", func(t *testing.T) {
		code, body, h := env.send(t, "POST", "/api/v1/alerts", env.editor, story(2), nil)
		if code != 429 || h.Get("Retry-After") != "180" || body["retry_after"] != float64(180) {
			t.Fatalf("= %d %v Retry-After %q, want 429 after 180 s", code, body, h.Get("Retry-After"))
		}
	})
	t.Run("flash passes", func(t *testing.T) {
		if code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(3), "priority", "flash")); code != 201 {
			t.Fatalf("= %d %v", code, body)
		}
	})
	t.Run("after the gap", func(t *testing.T) {
		env.clock.Advance(3 * time.Minute)
		if code, body := env.do(t, "POST", "/api/v1/alerts", env.editor, story(4)); code != 201 {
			t.Fatalf("= %d %v", code, body)
		}
	})
}

func TestAlertUpdateRetract(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	_, a := env.do(t, "POST", "/api/v1/alerts", env.editor, story(1))
	id := a["id"].(string)
	t.Run("update", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts/"+id+"/update", env.editor, map[string]any{"headline": "Corrected: joint efforts agreed"})
		if code != 200 || body["headline"] != "Corrected: joint efforts agreed" || body["url"] != a["url"] || body["id"] != id || body["updated_at"] == nil {
			t.Fatalf("update = %d %v", code, body)
		}
		evs, _, err := env.log.Since(context.Background(), "0-0", 10)
		if err != nil || len(evs) != 2 || evs[1].Type != flashwire.Updated || evs[1].Alert.ID != id {
			t.Fatalf("log after update: %+v, %v", evs, err)
		}
	})
	t.Run("update invalid", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts/"+id+"/update", env.editor, map[string]any{"url": "nope", "topics": []string{}})
		if code != 400 || strings.Join(fieldsAtFault(body), ",") != "url,topics" {
			t.Fatalf("= %d %v", code, body)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if code, _ := env.do(t, "POST", "/api/v1/alerts/1-0/update", env.editor, map[string]any{"headline": "x"}); code != 404 {
			t.Fatalf("update unknown = %d", code)
		}
		if code, _ := env.do(t, "POST", "/api/v1/alerts/nope/retract", env.editor, nil); code != 404 {
			t.Fatalf("retract unknown = %d", code)
		}
	})
	t.Run("retract", func(t *testing.T) {
		code, body := env.do(t, "POST", "/api/v1/alerts/"+id+"/retract", env.editor, nil)
		if code != 200 || body["retracted"] != true {
			t.Fatalf("retract = %d %v", code, body)
		}
		evs, _, _ := env.log.Since(context.Background(), "0-0", 10)
		if len(evs) != 3 || evs[2].Type != flashwire.Retracted {
			t.Fatalf("log after retract: %+v", evs)
		}
	})
	t.Run("ErrRetracted", func(t *testing.T) {
		if code, _ := env.do(t, "POST", "/api/v1/alerts/"+id+"/retract", env.editor, nil); code != 409 {
			t.Fatalf("second retract = %d, want 409", code)
		}
		if code, _ := env.do(t, "POST", "/api/v1/alerts/"+id+"/update", env.editor, map[string]any{"headline": "x"}); code != 409 {
			t.Fatalf("update after retract = %d, want 409", code)
		}
	})
}

func TestAlertSchedule(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{minGap: time.Hour})
	at := env.clock.Now().Add(10 * time.Minute)
	code, sc := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(1), "send_at", at.Format(time.RFC3339Nano)))
	id, _ := sc["id"].(string)
	if code != 202 || !strings.HasPrefix(id, "sch_") || sc["created_by"] != "night desk" {
		t.Fatalf("schedule = %d %v", code, sc)
	}
	_, other := env.do(t, "POST", "/api/v1/alerts", env.editor, with(story(2), "send_at", at.Add(time.Hour).Format(time.RFC3339)))
	otherID, _ := other["id"].(string)
	if n := env.logLen(t); n != 0 {
		t.Fatalf("scheduling wrote %d events", n)
	}
	t.Run("list", func(t *testing.T) {
		code, body := env.do(t, "GET", "/api/v1/alerts/scheduled", env.editor, nil)
		list, _ := body["scheduled"].([]any)
		if code != 200 || len(list) != 2 || list[0].(map[string]any)["id"] != id {
			t.Fatalf("list = %d %v", code, body)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		if code, body := env.do(t, "DELETE", "/api/v1/alerts/scheduled/"+otherID, env.editor, nil); code != 200 {
			t.Fatalf("cancel = %d %v", code, body)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/alerts/scheduled/"+otherID, env.editor, nil); code != 404 {
			t.Fatalf("second cancel = %d, want 404", code)
		}
	})
	t.Run("sent on time", func(t *testing.T) {
		env.clock.Advance(9 * time.Minute)
		if sent, err := env.alerts.SendDue(context.Background()); err != nil || len(sent) != 0 {
			t.Fatalf("early: %v %v", sent, err)
		}
		env.clock.Advance(time.Minute)
		sent, err := env.alerts.SendDue(context.Background())
		if err != nil || len(sent) != 1 || !sent[0].PublishedAt.Equal(at) {
			t.Fatalf("due: %+v %v", sent, err)
		}
		env.clock.Advance(2 * time.Hour)
		if sent, _ := env.alerts.SendDue(context.Background()); len(sent) != 0 {
			t.Fatalf("cancelled alert went out: %+v", sent)
		}
		_, body := env.do(t, "GET", "/api/v1/alerts", env.editor, nil)
		if list, _ := body["alerts"].([]any); len(list) != 1 {
			t.Fatalf("history after the scheduled send: %v", body)
		}
		if code, _ := env.do(t, "DELETE", "/api/v1/alerts/scheduled/"+id, env.editor, nil); code != 404 {
			t.Fatalf("cancel after sending = %d, want 404", code)
		}
	})
}

func TestAlertHistory(t *testing.T) {
	env := newAlertEnv(t, alertEnvOptions{})
	var ids []string
	for i := range 5 {
		_, a := env.do(t, "POST", "/api/v1/alerts", env.editor, story(i))
		ids = append(ids, a["id"].(string))
		env.clock.Advance(time.Millisecond)
	}
	ctx := context.Background()
	if err := env.stats.Record(ctx, ids[4], notifier.WebSocket, notifier.Tally{Reached: 3, Updates: 2, Failed: 1, Latencies: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 90 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	t.Run("pages", func(t *testing.T) {
		var got []string
		path := "/api/v1/alerts?limit=2"
		for range 5 {
			code, body := env.do(t, "GET", path, env.editor, nil)
			if code != 200 {
				t.Fatalf("%s = %d %v", path, code, body)
			}
			for _, a := range body["alerts"].([]any) {
				got = append(got, a.(map[string]any)["id"].(string))
			}
			next, _ := body["next"].(string)
			if next == "" {
				break
			}
			path = "/api/v1/alerts?limit=2&before=" + next
		}
		want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("history %v, want newest first %v", got, want)
		}
	})
	t.Run("bad params", func(t *testing.T) {
		code, body := env.do(t, "GET", "/api/v1/alerts?limit=0&before=x", env.editor, nil)
		if code != 400 || strings.Join(fieldsAtFault(body), ",") != "limit,before" {
			t.Fatalf("= %d %v", code, body)
		}
	})
	t.Run("delivery", func(t *testing.T) {
		code, body := env.do(t, "GET", "/api/v1/alerts/"+ids[4], env.editor, nil)
		ws, _ := body["delivery"].(map[string]any)["websocket"].(map[string]any)
		if code != 200 || ws["reached"] != float64(3) || ws["updates"] != float64(2) || ws["retractions"] != float64(0) || ws["failed"] != float64(1) || ws["first_ms"] != float64(20) || ws["median_ms"] == nil || ws["p99_ms"] == nil {
			t.Fatalf("get = %d %v", code, body)
		}
	})
}
