package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/notifier/watch"
	"flashwire/subscribers"
)

// newWatchTestEnv is a server with a feed watcher and an editor token.
func newWatchTestEnv(tb testing.TB) (*testEnv, *watch.Watcher, string) {
	tb.Helper()
	e, wt, _, editor := newWatchTestEnvGap(tb, 0)
	return e, wt, editor
}

// newWatchTestEnvGap is newWatchTestEnv with the newsroom's minimum gap
// between non-flash alerts set, also returning the alert service.
func newWatchTestEnvGap(tb testing.TB, minGap time.Duration) (*testEnv, *watch.Watcher, *notifier.Service, string) {
	tb.Helper()
	srv, rdb := redistest.Start(tb)
	store := subscribers.NewStore(rdb)
	if err := store.Seed(context.Background()); err != nil {
		tb.Fatal(err)
	}
	svc := notifier.NewService(notifier.NewLog(rdb), store)
	svc.MinGap = minGap
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	wt := watch.New(watch.Config{Redis: rdb, Alerts: svc, Taxonomy: store, Logger: logger, Outbound: loopbackOutbound(tb),
		Now: func() time.Time { return time.Date(2017, 11, 11, 9, 0, 0, 0, time.UTC) }})
	tokens := NewTokens(rdb, testAdminToken)
	_, editor, err := tokens.Create(context.Background(), "desk", RoleEditor)
	if err != nil {
		tb.Fatal(err)
	}
	h := NewServer(Config{
		Logger:      logger,
		Redis:       rdb,
		Alerts:      svc,
		Subscribers: store,
		Tokens:      tokens,
		Registry:    prometheus.NewRegistry(),
		Watcher:     wt,
	})
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	return &testEnv{Server: ts, redis: srv, rdb: rdb}, wt, svc, editor
}

func TestSourcesAPI(t *testing.T) {
	e, _, editor := newWatchTestEnv(t)
	t.Run("ErrInvalid", func(t *testing.T) {
		status, body := e.do(t, "POST", "/api/v1/sources", testAdminToken, map[string]any{
			"url": "ftp://x", "schedule": "sometimes", "topics": []string{"gossip"}, "format": "csv",
		})
		if status != http.StatusBadRequest {
			t.Fatalf("status %d, body %v", status, body)
		}
		want := map[string]bool{"url": true, "schedule": true, "topics": true, "format": true}
		for _, f := range body["fields"].([]any) {
			delete(want, f.(map[string]any)["field"].(string))
		}
		if len(want) != 0 {
			t.Errorf("fields not named: %v in %v", want, body["fields"])
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		if status, _ := e.do(t, "GET", "/api/v1/sources", editor, nil); status != http.StatusForbidden {
			t.Fatalf("editor listed sources: status %d", status)
		}
	})
	var id string
	t.Run("OK", func(t *testing.T) {
		status, body := e.do(t, "POST", "/api/v1/sources", testAdminToken, map[string]any{
			"url": "https://news.example.com/world.rss", "schedule": "@every 15s", "topics": []string{"world"},
			"mode": "hold", "category_topics": map[string]string{"Politics": "politics"},
		})
		if status != http.StatusCreated {
			t.Fatalf("create: status %d, body %v", status, body)
		}
		id, _ = body["id"].(string)
		state, _ := body["state"].(map[string]any)
		if id == "" || state == nil || state["next_run"] == nil || body["max_age"] != "2h0m0s" {
			t.Fatalf("created = %v", body)
		}
		status, body = e.do(t, "PATCH", "/api/v1/sources/"+id, testAdminToken, map[string]any{"mode": "auto", "breaking": map[string]any{"labels": []string{"Eilmeldung"}}})
		if status != http.StatusOK || body["mode"] != "auto" || body["schedule"] != "@every 15s" {
			t.Fatalf("patch: status %d, body %v", status, body)
		}
		status, body = e.do(t, "GET", "/api/v1/sources", testAdminToken, nil)
		if status != http.StatusOK || len(body["sources"].([]any)) != 1 {
			t.Fatalf("list: status %d, body %v", status, body)
		}
		if status, _ := e.do(t, "DELETE", "/api/v1/sources/"+id, testAdminToken, nil); status != http.StatusNoContent {
			t.Fatalf("delete: status %d", status)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if status, _ := e.do(t, "GET", "/api/v1/sources/"+id, testAdminToken, nil); status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
	})
}

func TestHeldAPI(t *testing.T) {
	e, wt, editor := newWatchTestEnv(t)
	rss, err := os.ReadFile("../notifier/watch/testdata/rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(rss) }))
	t.Cleanup(feed.Close)
	status, body := e.do(t, "POST", "/api/v1/sources", testAdminToken, map[string]any{"url": feed.URL, "topics": []string{"world"}, "mode": "hold"})
	if status != http.StatusCreated {
		t.Fatalf("create: status %d, body %v", status, body)
	}
	if err := wt.RunOnce(context.Background(), body["id"].(string)); err != nil {
		t.Fatal(err)
	}
	status, body = e.do(t, "GET", "/api/v1/held", editor, nil)
	held, _ := body["held"].([]any)
	if status != http.StatusOK || len(held) != 2 {
		t.Fatalf("held: status %d, body %v", status, body)
	}
	first := held[0].(map[string]any)["id"].(string)
	second := held[1].(map[string]any)["id"].(string)
	t.Run("Send", func(t *testing.T) {
		status, body := e.do(t, "POST", "/api/v1/held/"+first+"/send", editor, nil)
		if status != http.StatusCreated || body["id"] == "" || body["headline"] == "" {
			t.Fatalf("send: status %d, body %v", status, body)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		if status, _ := e.do(t, "POST", "/api/v1/held/"+first+"/send", editor, nil); status != http.StatusConflict {
			t.Fatalf("second send: status %d", status)
		}
	})
	t.Run("Dismiss", func(t *testing.T) {
		if status, _ := e.do(t, "POST", "/api/v1/held/"+second+"/dismiss", editor, nil); status != http.StatusNoContent {
			t.Fatalf("dismiss: status %d", status)
		}
		_, body := e.do(t, "GET", "/api/v1/held", editor, nil)
		if n := len(body["held"].([]any)); n != 0 {
			t.Fatalf("%d still held", n)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if status, _ := e.do(t, "POST", "/api/v1/held/nosuch/dismiss", editor, nil); status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
	})
}

func TestHeldGuardsAPI(t *testing.T) {
	e, wt, svc, editor := newWatchTestEnvGap(t, time.Hour)
	rss, err := os.ReadFile("../notifier/watch/testdata/rss.xml")
	if err != nil {
		t.Fatal(err)
	}
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(rss) }))
	t.Cleanup(feed.Close)
	// An auto source: its first breaking story goes out, the second comes
	// within the minimum gap and is held for an editor.
	status, body := e.do(t, "POST", "/api/v1/sources", testAdminToken, map[string]any{"url": feed.URL, "topics": []string{"world"}})
	if status != http.StatusCreated {
		t.Fatalf("create: status %d, body %v", status, body)
	}
	if err := wt.RunOnce(context.Background(), body["id"].(string)); err != nil {
		t.Fatal(err)
	}
	status, body = e.do(t, "GET", "/api/v1/held", editor, nil)
	held, _ := body["held"].([]any)
	if status != http.StatusOK || len(held) != 1 {
		t.Fatalf("held: status %d, body %v", status, body)
	}
	story := held[0].(map[string]any)
	id, _ := story["id"].(string)
	if reason, _ := story["reason"].(string); !strings.Contains(reason, "minimum gap") {
		t.Fatalf("held story without the gap as reason: %v", story)
	}
	t.Run("ErrTooSoon", func(t *testing.T) {
		status, body, header := e.send(t, "POST", "/api/v1/held/"+id+"/send", editor, nil, nil)
		if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" || body["retry_after"] == nil {
			t.Fatalf("send: status %d, Retry-After %q, body %v", status, header.Get("Retry-After"), body)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		// The desk sends the same story by hand, then an editor sends the
		// held one.
		var a flashwire.Alert
		raw, _ := json.Marshal(story["alert"])
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		sent, _, err := svc.Publish(context.Background(), a, notifier.PublishOptions{SkipGap: true})
		if err != nil {
			t.Fatal(err)
		}
		status, body := e.do(t, "POST", "/api/v1/held/"+id+"/send", editor, nil)
		existing, _ := body["existing"].(map[string]any)
		if status != http.StatusConflict || existing["id"] != sent.ID {
			t.Fatalf("send: status %d, body %v; want 409 naming %s", status, body, sent.ID)
		}
		_, body = e.do(t, "GET", "/api/v1/held", editor, nil)
		if n := len(body["held"].([]any)); n != 1 {
			t.Fatalf("%d held after refused sends, want 1", n)
		}
	})
}

// TestWatcherRoutesWithoutWatcher: a server built without a feed watcher
// answers every watcher route 503, after authentication as usual.
func TestWatcherRoutesWithoutWatcher(t *testing.T) {
	env := newTestEnv(t)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/v1/sources"},
		{"POST", "/api/v1/sources"},
		{"GET", "/api/v1/sources/x"},
		{"PATCH", "/api/v1/sources/x"},
		{"DELETE", "/api/v1/sources/x"},
		{"GET", "/api/v1/held"},
		{"POST", "/api/v1/held/x/send"},
		{"POST", "/api/v1/held/x/dismiss"},
	} {
		if code, _ := env.do(t, rt.method, rt.path, testAdminToken, map[string]any{}); code != 503 {
			t.Errorf("%s %s = %d, want 503", rt.method, rt.path, code)
		}
		if code, _ := env.do(t, rt.method, rt.path, "", nil); code != 401 {
			t.Errorf("%s %s without a token = %d, want 401", rt.method, rt.path, code)
		}
	}
}
