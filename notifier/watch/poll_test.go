package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire"
)

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
	// A flash: ninjs urgency 1. Its uri is an identifier, not a link: the
	// source's template makes the reader's link.
	feed.set(readFixture(t, "ninjs-1x-ap.json"))
	if _, err := w.UpdateSource(context.Background(), src.ID, SourcePatch{Format: ptr(FormatNinjs), LinkTemplate: ptr("https://news.example.com/ap/{id}")}); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w, src.ID)
	evs = e.events(t)
	if len(evs) != 3 || evs[2].Alert.Priority != flashwire.Flash || evs[2].Alert.URL != "https://news.example.com/ap/danang-syria-statement" {
		t.Fatalf("events = %+v", evs)
	}
}

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
	if ua := first.Header.Get("User-Agent"); ua != "Flashwire/dev (breaking-news feed watcher)" {
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

// TestEverydayItemsKeepDecisions: a busy feed's everyday items, skipped as
// not flagged, are listed apart, so however many there are, the pushed
// story an editor comes looking for stays in the source's outcomes.
func TestEverydayItemsKeepDecisions(t *testing.T) {
	e := newWatchEnv(t)
	ctx := context.Background()
	rss := func(from, n int, breaking bool) []byte {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>https://news.example.com/</link>`)
		if breaking {
			b.WriteString(`<item><title>BREAKING: Storm reaches the coast</title><link>https://news.example.com/storm</link><guid>storm</guid><pubDate>` +
				fixtureNow.Add(-time.Minute).Format(time.RFC1123Z) + `</pubDate></item>`)
		}
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, `<item><title>Council meets on item %d</title><link>https://news.example.com/%d</link><guid>item-%d</guid><pubDate>%s</pubDate></item>`,
				i, i, i, fixtureNow.Add(-time.Minute).Format(time.RFC1123Z))
		}
		b.WriteString(`</channel></rss>`)
		return []byte(b.String())
	}
	feed := newFeedServer(t, rss(0, 10, true))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	// Two busy days: more everyday items than a list keeps.
	for from := 10; from < 10+2*maxOutcomes; from += 100 {
		feed.set(rss(from, 100, false))
		runOnce(t, w, src.ID)
	}
	list, err := w.Outcomes(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	pushed, everyday := 0, 0
	for _, o := range list {
		switch {
		case o.Outcome == OutcomePushed && o.StoryID == "storm":
			pushed++
		case o.Outcome == OutcomeSkipped && o.Reason == reasonNotFlagged:
			everyday++
		default:
			t.Errorf("unexpected outcome %+v", o)
		}
	}
	if pushed != 1 || everyday != maxOutcomes {
		t.Errorf("outcomes: %d pushed, %d everyday; want the pushed story and the last %d everyday items", pushed, everyday, maxOutcomes)
	}
}
