package watch

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
	"flashwire/subscribers"
)

// fixtureNow is shortly after the fixtures' stories appeared.
var fixtureNow = time.Date(2017, 11, 11, 9, 0, 0, 0, time.UTC)

// clock is a settable time for the watchers under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// feedServer serves one feed body over loopback and notes each request.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	status   int
	etag     string
	modified string
	delay    time.Duration
	requests []*http.Request
}

func newFeedServer(tb testing.TB, body []byte) *feedServer {
	tb.Helper()
	f := &feedServer{body: body, status: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(context.Background()))
		body, status, etag, modified, delay := f.body, f.status, f.etag, f.modified, f.delay
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if etag != "" {
			w.Header().Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		if modified != "" {
			w.Header().Set("Last-Modified", modified)
		}
		if status != http.StatusOK {
			http.Error(w, "trouble", status)
			return
		}
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write(body)
			_ = zw.Close()
			return
		}
		_, _ = w.Write(body)
	}))
	tb.Cleanup(f.Close)
	return f
}

func (f *feedServer) set(body []byte) { f.mu.Lock(); f.body = body; f.mu.Unlock() }

func (f *feedServer) lastRequest() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return nil
	}
	return f.requests[len(f.requests)-1]
}

// watchEnv is a real Redis with the taxonomy, the alert service and a clock.
type watchEnv struct {
	rdb   redis.UniversalClient
	store *subscribers.Store
	svc   *notifier.Service
	clock *clock
}

func newWatchEnv(tb testing.TB) *watchEnv {
	tb.Helper()
	_, rdb := redistest.Start(tb)
	return newWatchEnvOn(tb, rdb)
}

func newWatchEnvOn(tb testing.TB, rdb redis.UniversalClient) *watchEnv {
	tb.Helper()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &watchEnv{rdb: rdb, store: store, svc: notifier.NewService(notifier.NewLog(rdb), store), clock: &clock{t: fixtureNow}}
}

// testOutbound allows loopback, where the tests' feed servers listen.
var testOutbound = func() outbound.Config {
	a, err := outbound.ParseAllow([]string{"127.0.0.1"})
	if err != nil {
		panic(err)
	}
	return outbound.Config{Allow: a}
}()

func (e *watchEnv) watcher(tb testing.TB, name string, mod func(*Config)) *Watcher {
	tb.Helper()
	cfg := Config{
		Redis:        e.rdb,
		Alerts:       e.svc,
		Taxonomy:     e.store,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		FetchTimeout: 5 * time.Second,
		LeaseTTL:     2 * time.Second,
		Instance:     name,
		Now:          e.clock.Now,
		Outbound:     testOutbound,
	}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg)
}

func (e *watchEnv) source(tb testing.TB, w *Watcher, s Source) Source {
	tb.Helper()
	if s.Topics == nil {
		s.Topics = []string{"world"}
	}
	if s.Regions == nil {
		s.Regions = []string{"international"}
	}
	if s.Schedule == "" {
		s.Schedule = "@every 1h"
	}
	created, err := w.CreateSource(context.Background(), s)
	if err != nil {
		tb.Fatal(err)
	}
	return created
}

func (e *watchEnv) events(tb testing.TB) []flashwire.Event {
	tb.Helper()
	evs, _, err := notifier.NewLog(e.rdb).Since(context.Background(), "0-0", 1000)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func runOnce(tb testing.TB, w *Watcher, id string) {
	tb.Helper()
	if err := w.RunOnce(context.Background(), id); err != nil {
		tb.Fatalf("RunOnce: %v", err)
	}
}

// ninjsDoc is one ninjs 2.x item.
func ninjsDoc(headline, status string, urgency int, created, embargo time.Time) []byte {
	item := map[string]any{
		"uri":            "urn:newsml:wire.example:20171111:syria-1",
		"versioncreated": created.Format(time.RFC3339),
		"pubstatus":      status,
		"urgency":        urgency,
		"headlines":      []map[string]string{{"role": "main", "value": headline}},
		"links":          []map[string]string{{"href": "https://wire.example/syria-1", "rel": "canonical"}},
	}
	if !embargo.IsZero() {
		item["embargoed"] = embargo.Format(time.RFC3339)
	}
	b, _ := json.Marshal(item)
	return b
}

func ptr[T any](v T) *T { return &v }

// alertOf is the alert w makes of story s of src.
func alertOf(w *Watcher, src Source, s Story) flashwire.Alert {
	a, _ := w.alert(src, s)
	return a
}

// start starts w, and stops it when the test ends.
func start(tb testing.TB, w *Watcher) {
	tb.Helper()
	if err := w.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Stop(ctx)
	})
}
