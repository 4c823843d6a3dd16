package watch

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
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

func TestAutoModePublishes(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL, CategoryTopics: map[string]string{"Russia": "politics"}})
	runOnce(t, w, src.ID)
	evs := e.events(t)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	a := evs[0].Alert
	if a.Headline != "Putin, Trump Agree To Joint Efforts Against IS In Syria" || a.Priority != flashwire.Urgent ||
		strings.Join(a.Topics, ",") != "world,politics" || a.Language != "en-us" || a.ImageURL == "" {
		t.Errorf("alert = %+v", a)
	}
	if h := evs[1].Alert.Headline; h != "Kremlin publishes joint statement on Syria" {
		t.Errorf("prefix not cut: %q", h)
	}
	got, err := w.Source(context.Background(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.ItemsSeen != 4 || got.State.AlertsMade != 2 || got.State.LastSuccess.IsZero() || got.State.LastError != "" || got.State.NextRun.IsZero() {
		t.Errorf("state = %+v", got.State)
	}
	// A flash: ninjs urgency 1.
	feed.set(readFixture(t, "ninjs-1x-ap.json"))
	if _, err := w.UpdateSource(context.Background(), src.ID, SourcePatch{Format: ptr(FormatNinjs)}); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w, src.ID)
	evs = e.events(t)
	if len(evs) != 3 || evs[2].Alert.Priority != flashwire.Flash {
		t.Fatalf("events = %+v", evs)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPushOnceAcrossInstances(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	a, b := e.watcher(t, "a", nil), e.watcher(t, "b", nil)
	src := e.source(t, a, Source{URL: feed.URL})
	// Both poll the same source at once, bypassing the lease, as two
	// instances would if a lease ran out mid-poll.
	var wg sync.WaitGroup
	for _, w := range []*Watcher{a, b, a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.poll(context.Background(), src); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(e.events(t)); n != 2 {
		t.Fatalf("got %d alerts, want 2 (each story once)", n)
	}
	// Through the lease, the second instance does not poll at all.
	runOnce(t, a, src.ID)
	if err := b.RunOnce(context.Background(), src.ID); !errors.Is(err, ErrLeased) {
		t.Fatalf("second instance: err = %v, want ErrLeased", err)
	}
	if n := len(e.events(t)); n != 2 {
		t.Fatalf("got %d alerts after more polls, want 2", n)
	}
}

func TestCanceledRetracts(t *testing.T) {
	e := newWatchEnv(t)
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 1, created, time.Time{}))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL, Format: FormatNinjs})
	runOnce(t, w, src.ID)
	feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 1, created, time.Time{}))
	runOnce(t, w, src.ID)
	runOnce(t, w, src.ID)
	evs := e.events(t)
	if len(evs) != 2 || evs[0].Type != flashwire.Published || evs[1].Type != flashwire.Retracted || evs[1].Alert.ID != evs[0].ID {
		t.Fatalf("events = %+v", evs)
	}
	// A canceled story never seen before is never pushed later.
	feed.set(bytes.Replace(ninjsDoc("Other", StatusCanceled, 1, created, time.Time{}), []byte("syria-1"), []byte("syria-2"), -1))
	runOnce(t, w, src.ID)
	feed.set(bytes.Replace(ninjsDoc("Other", StatusUsable, 1, created, time.Time{}), []byte("syria-1"), []byte("syria-2"), -1))
	runOnce(t, w, src.ID)
	if n := len(e.events(t)); n != 2 {
		t.Fatalf("got %d events, want 2", n)
	}
}

func TestChangedHeadlineUpdates(t *testing.T) {
	e := newWatchEnv(t)
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Putin, Trump agree on Syria", StatusUsable, 2, created, time.Time{}))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	feed.set(ninjsDoc("Putin, Trump agree joint efforts against IS in Syria", StatusUsable, 2, created, time.Time{}))
	runOnce(t, w, src.ID)
	runOnce(t, w, src.ID)
	evs := e.events(t)
	if len(evs) != 2 || evs[1].Type != flashwire.Updated || evs[1].Alert.ID != evs[0].ID ||
		evs[1].Alert.Headline != "Putin, Trump agree joint efforts against IS in Syria" {
		t.Fatalf("events = %+v", evs)
	}
}

func TestEmbargoWaits(t *testing.T) {
	e := newWatchEnv(t)
	embargo := fixtureNow.Add(10 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Kremlin publishes the text", StatusUsable, 1, fixtureNow.Add(-time.Minute), embargo))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	if n := len(e.events(t)); n != 0 {
		t.Fatalf("pushed %d alerts under embargo", n)
	}
	e.clock.Add(11 * time.Minute)
	runOnce(t, w, src.ID)
	if n := len(e.events(t)); n != 1 {
		t.Fatalf("got %d alerts after the embargo, want 1", n)
	}
}

func TestMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		maxAge string
		want   int
	}{
		// Default 2h: both breaking stories (20 and 5 minutes old).
		{"Default", "", 2},
		// 10m: only the one 5 minutes old.
		{"TenMinutes", "10m", 1},
		// 1m: neither.
		{"OneMinute", "1m", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWatchEnv(t)
			feed := newFeedServer(t, readFixture(t, "rss.xml"))
			w := e.watcher(t, "a", nil)
			src := e.source(t, w, Source{URL: feed.URL, MaxAge: tt.maxAge})
			runOnce(t, w, src.ID)
			// Held back for good: a later poll does not push them either.
			e.clock.Add(time.Minute)
			runOnce(t, w, src.ID)
			if n := len(e.events(t)); n != tt.want {
				t.Fatalf("got %d alerts, want %d", n, tt.want)
			}
		})
	}
}

func TestBrokenFeedLeavesError(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *feedServer)
		want  string
	}{
		// Not a feed at all.
		{"Garbage", func(f *feedServer) { f.set([]byte("<html><body>Maintenance</body></html>")) }, "not RSS, Atom, JSON Feed or ninjs"},
		// Cut off in the middle.
		{"Truncated", func(f *feedServer) { f.set(readFixture(t, "rss.xml")[:900]) }, "feed"},
		// A server error.
		{"ServerError", func(f *feedServer) { f.status = http.StatusInternalServerError }, "answered 500 Internal Server Error"},
		// Over the 5 MiB cap.
		{"Huge", func(f *feedServer) {
			f.set(append(readFixture(t, "rss.xml"), bytes.Repeat([]byte("<!-- padding -->"), 6<<20/16)...))
		}, "larger than 5 MiB"},
		// No answer in time.
		{"Slow", func(f *feedServer) { f.delay = 3 * time.Second }, "did not answer within 500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newWatchEnv(t)
			feed := newFeedServer(t, nil)
			tt.setup(feed)
			w := e.watcher(t, "a", func(c *Config) {
				// Short only where the timeout is the point: the huge feed
				// must reach the cap even on a loaded machine.
				c.FetchTimeout = 20 * time.Second
				if tt.name == "Slow" {
					c.FetchTimeout = 500 * time.Millisecond
				}
			})
			src := e.source(t, w, Source{URL: feed.URL})
			if err := w.RunOnce(context.Background(), src.ID); err == nil {
				t.Fatal("RunOnce succeeded on a broken feed")
			}
			got, err := w.Source(context.Background(), src.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.State.LastError, tt.want) || got.State.Failures != 1 || !got.State.BackoffUntil.After(fixtureNow) {
				t.Fatalf("state = %+v, want an error saying %q and a backoff", got.State, tt.want)
			}
			// Fixed, the source works again and the error is gone.
			feed.mu.Lock()
			feed.body, feed.status, feed.delay = readFixture(t, "rss.xml"), http.StatusOK, 0
			feed.mu.Unlock()
			runOnce(t, w, src.ID)
			got, _ = w.Source(context.Background(), src.ID)
			if got.State.LastError != "" || got.State.Failures != 0 || len(e.events(t)) != 2 {
				t.Fatalf("after the fix: state = %+v, %d events", got.State, len(e.events(t)))
			}
		})
	}
}

func TestConditionalGet(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "atom.xml"))
	feed.etag = `"v1"`
	feed.modified = "Sat, 11 Nov 2017 08:58:00 GMT"
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	first := feed.lastRequest()
	if ua := first.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Flashwire/") {
		t.Errorf("User-Agent = %q", ua)
	}
	if ae := first.Header.Get("Accept-Encoding"); !strings.Contains(ae, "gzip") {
		t.Errorf("Accept-Encoding = %q, want gzip", ae)
	}
	if n := len(e.events(t)); n != 2 {
		t.Fatalf("gzipped Atom gave %d alerts, want 2", n)
	}
	runOnce(t, w, src.ID)
	second := feed.lastRequest()
	if second.Header.Get("If-None-Match") != `"v1"` || second.Header.Get("If-Modified-Since") != feed.modified {
		t.Errorf("conditional headers = %q, %q", second.Header.Get("If-None-Match"), second.Header.Get("If-Modified-Since"))
	}
	got, _ := w.Source(context.Background(), src.ID)
	if got.State.LastError != "" || got.State.ItemsSeen != 3 {
		t.Errorf("after 304: state = %+v", got.State)
	}
}

func TestLeaseMoves(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	a := e.watcher(t, "a", func(c *Config) { c.LeaseTTL = 1500 * time.Millisecond })
	b := e.watcher(t, "b", nil)
	src := e.source(t, a, Source{URL: feed.URL})
	ctx := context.Background()

	t.Run("RenewedWhileRunning", func(t *testing.T) {
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		runOnce(t, a, src.ID)
		time.Sleep(3500 * time.Millisecond) // over two TTLs: a renews it
		if err := b.RunOnce(ctx, src.ID); !errors.Is(err, ErrLeased) {
			t.Fatalf("b took a live lease: err = %v", err)
		}
	})
	t.Run("MovesWhenHolderStops", func(t *testing.T) {
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		a.Stop(stopCtx)
		runOnce(t, b, src.ID)
	})
	t.Run("MovesWhenHolderDies", func(t *testing.T) {
		// b (lease 2 s) never started its renewal: like a dead instance,
		// its lease runs out and c takes over.
		c := e.watcher(t, "c", nil)
		if err := c.RunOnce(ctx, src.ID); !errors.Is(err, ErrLeased) {
			t.Fatalf("c took b's lease at once: err = %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for c.RunOnce(ctx, src.ID) != nil {
			if time.Now().After(deadline) {
				t.Fatal("c never took over the lease")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestHoldQueue(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL, Mode: ModeHold})
	ctx := context.Background()
	runOnce(t, w, src.ID)
	runOnce(t, w, src.ID)
	if n := len(e.events(t)); n != 0 {
		t.Fatalf("hold mode pushed %d alerts", n)
	}
	held, err := w.Held(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || held[0].SourceID != src.ID || held[0].Alert.Headline == "" || held[0].HeldAt.IsZero() {
		t.Fatalf("held = %+v", held)
	}
	t.Run("Send", func(t *testing.T) {
		a, err := w.Send(ctx, held[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		evs := e.events(t)
		if len(evs) != 1 || evs[0].ID != a.ID {
			t.Fatalf("events = %+v", evs)
		}
	})
	t.Run("ErrNotHeld", func(t *testing.T) {
		if _, err := w.Send(ctx, held[0].ID); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("second send: err = %v", err)
		}
	})
	t.Run("Dismiss", func(t *testing.T) {
		if err := w.Dismiss(ctx, held[1].ID); err != nil {
			t.Fatal(err)
		}
		left, _ := w.Held(ctx)
		if len(left) != 0 {
			t.Fatalf("held after dismiss = %+v", left)
		}
		runOnce(t, w, src.ID)
		if n := len(e.events(t)); n != 1 {
			t.Fatalf("dismissed story pushed: %d events", n)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if err := w.Dismiss(ctx, "0123456789abcdef0123456789abcdef"); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	got, _ := w.Source(ctx, src.ID)
	if got.State.AlertsMade != 1 {
		t.Errorf("alerts_made = %d, want 1", got.State.AlertsMade)
	}
}

func TestScheduleAndReloadAcrossInstances(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "feed.json"))
	running := e.watcher(t, "running", nil)
	if err := running.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		running.Stop(ctx)
	})
	// The source is created on another instance that is not even started:
	// the running one hears of it and polls it on its schedule.
	other := e.watcher(t, "other", nil)
	e.source(t, other, Source{URL: feed.URL, Schedule: "@every 1s"})
	deadline := time.Now().Add(10 * time.Second)
	for len(e.events(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the scheduled poll never pushed the story")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(e.events(t)); n != 1 {
		t.Fatalf("got %d alerts, want 1", n)
	}
}

func TestCreateSourceInvalid(t *testing.T) {
	e := newWatchEnv(t)
	w := e.watcher(t, "a", nil)
	ten := 10
	tests := []struct {
		name   string
		source Source
		field  string
	}{
		// No URL.
		{"NoURL", Source{Topics: []string{"world"}}, "url"},
		// Not http.
		{"FTP", Source{URL: "ftp://x.example/feed", Topics: []string{"world"}}, "url"},
		// Unknown format.
		{"Format", Source{URL: "https://x.example/f", Format: "csv", Topics: []string{"world"}}, "format"},
		// A schedule cron cannot read.
		{"Schedule", Source{URL: "https://x.example/f", Schedule: "every minute", Topics: []string{"world"}}, "schedule"},
		// Unknown mode.
		{"Mode", Source{URL: "https://x.example/f", Mode: "later", Topics: []string{"world"}}, "mode"},
		// No topic.
		{"NoTopics", Source{URL: "https://x.example/f"}, "topics"},
		// A topic outside the taxonomy.
		{"UnknownTopic", Source{URL: "https://x.example/f", Topics: []string{"gossip"}}, "topics"},
		// A region outside the taxonomy.
		{"UnknownRegion", Source{URL: "https://x.example/f", Topics: []string{"world"}, Regions: []string{"mars"}}, "regions"},
		// A category mapped to an unknown topic.
		{"CategoryTopics", Source{URL: "https://x.example/f", Topics: []string{"world"}, CategoryTopics: map[string]string{"Sport": "football"}}, "category_topics"},
		// Urgency beyond 9.
		{"MaxUrgency", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{MaxUrgency: &ten}}, "breaking.max_urgency"},
		// Not a duration.
		{"MaxAge", Source{URL: "https://x.example/f", Topics: []string{"world"}, MaxAge: "two hours"}, "max_age"},
		// Not a language tag.
		{"Language", Source{URL: "https://x.example/f", Topics: []string{"world"}, Language: "English!"}, "language"},
		// Rule text with hidden characters would never match what it shows.
		{"LabelControl", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{Labels: []string{"Breaking\x00"}}}, "breaking.labels"},
		{"PrefixOverride", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{TitlePrefixes: []string{"\u202EBREAKING:"}}}, "breaking.title_prefixes"},
		{"CategoryControl", Source{URL: "https://x.example/f", Topics: []string{"world"}, CategoryTopics: map[string]string{"Sp\tort": "world"}}, "category_topics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.CreateSource(context.Background(), tt.source)
			var bad *flashwire.InvalidError
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want *flashwire.InvalidError", err)
			}
			for _, f := range bad.Fields {
				if f.Field == tt.field {
					return
				}
			}
			t.Errorf("fields = %+v, want %s", bad.Fields, tt.field)
		})
	}
	t.Run("OK", func(t *testing.T) {
		s, err := w.CreateSource(context.Background(), Source{URL: "https://x.example/f", Topics: []string{"World"}, Schedule: "*/15 * * * * *"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Format != FormatAuto || s.Mode != ModeAuto || s.MaxAge != "2h0m0s" || *s.Breaking.MaxUrgency != 2 ||
			len(s.Breaking.Labels) != 2 || s.Breaking.TitlePrefixes[0] != "BREAKING:" || s.Topics[0] != "world" {
			t.Errorf("defaults = %+v", s)
		}
	})
}

func TestOnCluster(t *testing.T) {
	_, rdb := redistest.StartCluster(t)
	e := newWatchEnvOn(t, rdb)
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	a, b := e.watcher(t, "a", nil), e.watcher(t, "b", nil)
	auto := e.source(t, a, Source{URL: feed.URL})
	hold := e.source(t, a, Source{URL: feed.URL, Mode: ModeHold})
	runOnce(t, a, auto.ID)
	if err := b.RunOnce(context.Background(), auto.ID); !errors.Is(err, ErrLeased) {
		t.Fatalf("b: err = %v, want ErrLeased", err)
	}
	if err := b.poll(context.Background(), auto); err != nil {
		t.Fatal(err)
	}
	// The hold source reads the same feed: the story whose guid is a URL
	// was pushed already; the one with a plain guid is scoped to its
	// source, so it is new there and held.
	runOnce(t, b, hold.ID)
	held, err := b.Held(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.events(t)); n != 2 || len(held) != 1 || held[0].StoryID != "newsroom-28847530" {
		t.Fatalf("got %d alerts and held %+v, want 2 alerts and newsroom-28847530 held", n, held)
	}
	// Sending it is refused by the newsroom's duplicate guard: the auto
	// source pushed the same url and headline minutes ago.
	_, err = b.Send(context.Background(), held[0].ID)
	var dup *notifier.DuplicateError
	if !errors.As(err, &dup) || dup.Existing.Headline != held[0].Alert.Headline || dup.Existing.ID == "" {
		t.Fatalf("send: err = %v, want a DuplicateError naming the pushed alert", err)
	}
	if n := len(e.events(t)); n != 2 {
		t.Fatalf("got %d alerts after send, want 2", n)
	}
	if held, err := b.Held(context.Background()); err != nil || len(held) != 1 {
		t.Fatalf("held after a refused send = %+v, %v; want it still held", held, err)
	}
}

func TestHeldFollowsFeed(t *testing.T) {
	e := newWatchEnv(t)
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Kremlin: statement due", StatusUsable, 1, created, time.Time{}))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL, Mode: ModeHold})
	ctx := context.Background()
	runOnce(t, w, src.ID)
	// A new headline replaces the held draft.
	feed.set(ninjsDoc("Kremlin publishes joint statement on Syria", StatusUsable, 1, created, time.Time{}))
	runOnce(t, w, src.ID)
	held, _ := w.Held(ctx)
	if len(held) != 1 || held[0].Alert.Headline != "Kremlin publishes joint statement on Syria" || held[0].Alert.Priority != flashwire.Flash {
		t.Fatalf("held = %+v", held)
	}
	// Canceled, it leaves the queue, unsent.
	feed.set(ninjsDoc("Kremlin publishes joint statement on Syria", StatusCanceled, 1, created, time.Time{}))
	runOnce(t, w, src.ID)
	held, _ = w.Held(ctx)
	if len(held) != 0 || len(e.events(t)) != 0 {
		t.Fatalf("held = %+v, %d events", held, len(e.events(t)))
	}
}

func TestBackoffSkipsTicks(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, []byte("not a feed"))
	w := e.watcher(t, "a", func(c *Config) { c.Backoff = time.Minute })
	src := e.source(t, w, Source{URL: feed.URL})
	requests := func() int { feed.mu.Lock(); defer feed.mu.Unlock(); return len(feed.requests) }
	w.tick(src.ID)
	w.tick(src.ID) // within the minute of backoff: no fetch
	if n := requests(); n != 1 {
		t.Fatalf("%d fetches during backoff, want 1", n)
	}
	e.clock.Add(61 * time.Second)
	w.tick(src.ID)
	w.tick(src.ID) // second error: two minutes now
	e.clock.Add(90 * time.Second)
	w.tick(src.ID)
	if n := requests(); n != 2 {
		t.Fatalf("%d fetches, want 2 (backoff doubled to 2m)", n)
	}
	got, _ := w.Source(context.Background(), src.ID)
	if got.State.Failures != 2 || !got.State.NextRun.After(e.clock.Now()) {
		t.Fatalf("state = %+v", got.State)
	}
}

func TestWithheldNeverPushed(t *testing.T) {
	e := newWatchEnv(t)
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusWithheld, 1, created, time.Time{}))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL, Format: FormatNinjs})
	runOnce(t, w, src.ID)
	runOnce(t, w, src.ID)
	if n := len(e.events(t)); n != 0 {
		t.Fatalf("a withheld story made %d events, want none", n)
	}
	// Withheld is not final: once the agency releases the story it goes out.
	feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 1, created, time.Time{}))
	runOnce(t, w, src.ID)
	if evs := e.events(t); len(evs) != 1 || evs[0].Type != flashwire.Published {
		t.Fatalf("after release: events = %+v, want one published", evs)
	}
}
