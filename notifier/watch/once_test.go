package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
)

// syriaURI is the identity of the story ninjsDoc writes.
const syriaURI = "urn:newsml:wire.example:20171111:syria-1"

// eachWatchRedis runs fn on a single Redis and on a 3-master cluster.
func eachWatchRedis(t *testing.T, fn func(t *testing.T, e *watchEnv)) {
	t.Run("single", func(t *testing.T) { fn(t, newWatchEnv(t)) })
	t.Run("cluster", func(t *testing.T) {
		_, rdb := redistest.StartCluster(t)
		fn(t, newWatchEnvOn(t, rdb))
	})
}

// claimDead leaves the story's record as an instance that claimed it and
// died would: "pending" since now.
func claimDead(tb testing.TB, e *watchEnv, src Source, story string) string {
	tb.Helper()
	hash := storyHash(src.ID, story)
	ok, err := claimScript.Run(context.Background(), e.rdb, []string{keyStory + hash, keyHeld},
		statePending, src.ID, story, "", "", millis(e.clock.Now()), int64(storyTTL/time.Second), hash, "", 0).Bool()
	if err != nil || !ok {
		tb.Fatalf("claim: %v, %v", ok, err)
	}
	return hash
}

// storyState returns a story record's state and alert id.
func storyState(tb testing.TB, e *watchEnv, hash string) (state, alertID string) {
	tb.Helper()
	vals, err := e.rdb.HMGet(context.Background(), keyStory+hash, "state", "alert").Result()
	if err != nil {
		tb.Fatal(err)
	}
	state, _ = vals[0].(string)
	alertID, _ = vals[1].(string)
	return state, alertID
}

func TestCrashAfterClaim(t *testing.T) {
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
		w := e.watcher(t, "a", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		hash := claimDead(t, e, src, syriaURI)
		runOnce(t, w, src.ID)
		if n := len(e.events(t)); n != 0 {
			t.Fatalf("pushed %d alerts while the claim is fresh, want 0", n)
		}
		e.clock.Add(3 * time.Second) // past LeaseTTL
		runOnce(t, w, src.ID)
		runOnce(t, w, src.ID)
		evs := e.events(t)
		if len(evs) != 1 || evs[0].Alert.Headline != "Kremlin: joint statement on Syria" {
			t.Fatalf("events = %+v, want the story once", evs)
		}
		if state, id := storyState(t, e, hash); state != statePushed || id != evs[0].ID {
			t.Fatalf("record = %s %s, want pushed %s", state, id, evs[0].ID)
		}
	})
}

func TestCrashAfterPublish(t *testing.T) {
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		ctx := context.Background()
		feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
		w := e.watcher(t, "a", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		hash := claimDead(t, e, src, syriaURI)
		// The dead instance's publish went through; its record never
		// learnt.
		stories, err := Parse(ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, fixtureNow.Add(-5*time.Minute), time.Time{}), FormatNinjs)
		if err != nil || len(stories) != 1 {
			t.Fatalf("parse: %v, %v", stories, err)
		}
		a := alertOf(w, src, stories[0])
		pub, _, err := e.svc.Publish(ctx, a, notifier.PublishOptions{Once: onceKey(hash)})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(3 * time.Second)
		runOnce(t, w, src.ID)
		evs := e.events(t)
		if len(evs) != 1 || evs[0].ID != pub.ID {
			t.Fatalf("events = %+v, want only %s", evs, pub.ID)
		}
		if state, id := storyState(t, e, hash); state != statePushed || id != pub.ID {
			t.Fatalf("record = %s %s, want pushed %s", state, id, pub.ID)
		}
		got, err := w.Source(ctx, src.ID)
		if err != nil || got.State.AlertsMade != 0 {
			t.Fatalf("alerts_made = %d, %v; want 0 (the alert was the dead instance's)", got.State.AlertsMade, err)
		}
	})
}

// TestStaleClaimMeetsFeed: the instance that claimed a story died, before
// or after its publish went through, and by the time the claim is stale the
// feed's version of the story has changed.
func TestStaleClaimMeetsFeed(t *testing.T) {
	const headline = "Kremlin: joint statement on Syria"
	created := fixtureNow.Add(-5 * time.Minute)
	tests := []struct {
		name      string
		published bool   // the dead instance's publish went through
		status    string // the feed's status once the claim is stale
		headline  string // the feed's headline then
		want      []flashwire.EventType
		wantState string
		// released is what follows once the feed lists the story usable
		// again, with its first headline.
		released []flashwire.EventType
	}{
		// Canceled after the alert went out: the alert is retracted, once.
		{"PublishedCanceled", true, StatusCanceled, headline,
			[]flashwire.EventType{flashwire.Retracted}, stateRetracted, nil},
		// A new headline: the alert is updated, and the first headline
		// coming back updates it again.
		{"PublishedNewHeadline", true, StatusUsable, "Kremlin, White House: joint statement on Syria",
			[]flashwire.EventType{flashwire.Updated}, statePushed, []flashwire.EventType{flashwire.Updated}},
		// Withheld after the alert went out: it becomes the story's, left
		// as it is.
		{"PublishedWithheld", true, StatusWithheld, headline, nil, statePushed, nil},
		// Canceled before anything went out: never pushed, even when the
		// story shows up usable again.
		{"UnpublishedCanceled", false, StatusCanceled, headline, nil, stateCanceled, nil},
		// Withheld before anything went out: not pushed until released.
		{"UnpublishedWithheld", false, StatusWithheld, headline, nil, statePending,
			[]flashwire.EventType{flashwire.Published}},
	}
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		ctx := context.Background()
		log := notifier.NewLog(e.rdb)
		w := e.watcher(t, "a", nil)
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				// Each case its own story, so one Redis serves them all.
				id := fmt.Sprintf("syria-crash-%d", i)
				doc := func(headline, status string) []byte {
					return bytes.ReplaceAll(ninjsDoc(headline, status, 2, created, time.Time{}), []byte("syria-1"), []byte(id))
				}
				feed := newFeedServer(t, doc(headline, StatusUsable))
				src := e.source(t, w, Source{URL: feed.URL})
				hash := claimDead(t, e, src, strings.Replace(syriaURI, "syria-1", id, 1))
				var pub flashwire.Alert
				if tt.published {
					stories, err := Parse(doc(headline, StatusUsable), FormatNinjs)
					if err != nil || len(stories) != 1 {
						t.Fatalf("parse: %v, %v", stories, err)
					}
					if pub, _, err = e.svc.Publish(ctx, alertOf(w, src, stories[0]), notifier.PublishOptions{Once: onceKey(hash)}); err != nil {
						t.Fatal(err)
					}
				}
				start, err := log.LastID(ctx)
				if err != nil {
					t.Fatal(err)
				}
				since := func() []flashwire.Event {
					t.Helper()
					evs, _, err := log.Since(ctx, start, 100)
					if err != nil {
						t.Fatal(err)
					}
					return evs
				}
				feed.set(doc(tt.headline, tt.status))
				e.clock.Add(3 * time.Second) // past LeaseTTL
				runOnce(t, w, src.ID)
				runOnce(t, w, src.ID)
				evs := since()
				if !sameTypes(evs, tt.want) {
					t.Fatalf("events = %+v, want %v", evs, tt.want)
				}
				for _, ev := range evs {
					if ev.Alert.ID != pub.ID {
						t.Errorf("%s of %s, want of the dead instance's alert %s", ev.Type, ev.Alert.ID, pub.ID)
					}
					if ev.Type == flashwire.Updated && ev.Alert.Headline != tt.headline {
						t.Errorf("updated headline = %q, want %q", ev.Alert.Headline, tt.headline)
					}
				}
				state, alertID := storyState(t, e, hash)
				if state != tt.wantState || alertID != pub.ID {
					t.Fatalf("record = %s %q, want %s %q", state, alertID, tt.wantState, pub.ID)
				}
				if len(evs) > 0 {
					start = evs[len(evs)-1].ID
				}
				feed.set(doc(headline, StatusUsable))
				e.clock.Add(3 * time.Second)
				runOnce(t, w, src.ID)
				runOnce(t, w, src.ID)
				if evs := since(); !sameTypes(evs, tt.released) {
					t.Fatalf("after release: events = %+v, want %v", evs, tt.released)
				}
			})
		}
	})
}

// sameTypes reports whether evs are of the types want, in order.
func sameTypes(evs []flashwire.Event, want []flashwire.EventType) bool {
	if len(evs) != len(want) {
		return false
	}
	for i, ev := range evs {
		if ev.Type != want[i] {
			return false
		}
	}
	return true
}

// TestStaleSend: an editor's send whose instance died.
func TestStaleSend(t *testing.T) {
	tests := []struct {
		name      string
		published bool
	}{
		// The send went out before the instance died.
		{"Published", true},
		// The instance died before sending.
		{"Unpublished", false},
	}
	for _, tt := range tests {
		published := tt.published
		t.Run(tt.name, func(t *testing.T) {
			e := newWatchEnv(t)
			ctx := context.Background()
			feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
			w := e.watcher(t, "a", nil)
			src := e.source(t, w, Source{URL: feed.URL, Mode: ModeHold})
			runOnce(t, w, src.ID)
			held, err := w.Held(ctx)
			if err != nil || len(held) != 1 {
				t.Fatalf("held = %+v, %v", held, err)
			}
			if _, moved, err := w.move(ctx, held[0].ID, stateHeld, stateSending, "", "", ""); err != nil || !moved {
				t.Fatalf("move: %v, %v", moved, err)
			}
			var pub flashwire.Alert
			if published {
				if pub, _, err = e.svc.Publish(ctx, held[0].Alert.asAlert(), notifier.PublishOptions{Once: onceKey(held[0].ID)}); err != nil {
					t.Fatal(err)
				}
			}
			runOnce(t, w, src.ID)
			if again, _ := w.Held(ctx); len(again) != 0 {
				t.Fatalf("held while the send is fresh = %+v", again)
			}
			e.clock.Add(3 * time.Second)
			runOnce(t, w, src.ID)
			again, err := w.Held(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if published {
				// The alert that went out becomes the story's: nothing
				// left to send, and the story's cancellation retracts it.
				if len(again) != 0 {
					t.Fatalf("held after a stale send that went out = %+v", again)
				}
				if state, id := storyState(t, e, held[0].ID); state != statePushed || id != pub.ID {
					t.Fatalf("record = %s %s, want pushed %s", state, id, pub.ID)
				}
				feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
				runOnce(t, w, src.ID)
				evs := e.events(t)
				if len(evs) != 2 || evs[1].Type != flashwire.Retracted || evs[1].Alert.ID != pub.ID {
					t.Fatalf("events = %+v, want %s published and retracted", evs, pub.ID)
				}
				return
			}
			// Back in the queue for an editor, who sends it once.
			if len(again) != 1 || again[0].ID != held[0].ID {
				t.Fatalf("held after a stale send = %+v", again)
			}
			if _, err := w.Send(ctx, held[0].ID); err != nil {
				t.Fatal(err)
			}
			if n := len(e.events(t)); n != 1 {
				t.Fatalf("got %d alerts, want 1", n)
			}
		})
	}
}

func TestAutoModeGuards(t *testing.T) {
	ctx := context.Background()
	urgent := ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, fixtureNow.Add(-5*time.Minute), time.Time{})
	t.Run("ErrTooSoon", func(t *testing.T) {
		e := newWatchEnv(t)
		e.svc.MinGap = time.Hour
		if _, _, err := e.svc.Publish(ctx, flashwire.Alert{Headline: "Earlier", URL: "https://news.example.com/earlier",
			Topics: []string{"world"}, Regions: []string{"international"}, Language: "en", Priority: flashwire.Urgent}, notifier.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		feed := newFeedServer(t, urgent)
		w := e.watcher(t, "a", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		runOnce(t, w, src.ID)
		if n := len(e.events(t)); n != 1 {
			t.Fatalf("got %d alerts, want only the earlier one", n)
		}
		held, err := w.Held(ctx)
		if err != nil || len(held) != 1 || !strings.Contains(held[0].Reason, "minimum gap") {
			t.Fatalf("held = %+v, %v; want the story held with the gap as reason", held, err)
		}
		// The editor gets the guard's error; the story stays held.
		_, err = w.Send(ctx, held[0].ID)
		var soon *notifier.TooSoonError
		if !errors.As(err, &soon) || soon.RetryAfter <= 0 {
			t.Fatalf("send: err = %v, want a TooSoonError", err)
		}
		if again, _ := w.Held(ctx); len(again) != 1 {
			t.Fatalf("held after a refused send = %+v", again)
		}
		// A flash passes the gap, as an editor's would.
		feed.set([]byte(strings.Replace(string(ninjsDoc("Kremlin: flash", StatusUsable, 1, fixtureNow.Add(-time.Minute), time.Time{})), "syria-1", "syria-2", -1)))
		runOnce(t, w, src.ID)
		evs := e.events(t)
		if len(evs) != 2 || evs[1].Alert.Priority != flashwire.Flash {
			t.Fatalf("events = %+v, want the flash pushed", evs)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		e := newWatchEnv(t)
		feed := newFeedServer(t, urgent)
		w := e.watcher(t, "a", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		stories, err := Parse(urgent, FormatNinjs)
		if err != nil {
			t.Fatal(err)
		}
		first, _, err := e.svc.Publish(ctx, alertOf(w, src, stories[0]), notifier.PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		runOnce(t, w, src.ID)
		if n := len(e.events(t)); n != 1 {
			t.Fatalf("got %d alerts, want only the editor's", n)
		}
		hash := storyHash(src.ID, syriaURI)
		if state, id := storyState(t, e, hash); state != statePushed || id != first.ID {
			t.Fatalf("record = %s %s, want pushed as %s", state, id, first.ID)
		}
		// The story's retraction reaches the editor's alert.
		feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
		runOnce(t, w, src.ID)
		evs := e.events(t)
		if len(evs) != 2 || evs[1].Type != flashwire.Retracted || evs[1].Alert.ID != first.ID {
			t.Fatalf("events = %+v, want %s retracted", evs, first.ID)
		}
	})
}

func TestMetrics(t *testing.T) {
	e := newWatchEnv(t)
	reg := prometheus.NewRegistry()
	feed := newFeedServer(t, readFixture(t, "rss.xml"))
	w := e.watcher(t, "a", func(c *Config) { c.Registry = reg })
	other := e.watcher(t, "b", func(c *Config) { c.Registry = reg })
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	if err := other.RunOnce(context.Background(), src.ID); !errors.Is(err, ErrLeased) {
		t.Fatalf("b: err = %v, want ErrLeased", err)
	}
	got := gather(t, reg)
	want := map[string]float64{
		`flashwire_watch_polls_total{outcome="ok"}`:     1,
		`flashwire_watch_polls_total{outcome="leased"}`: 1,
		`flashwire_watch_polls_total{outcome="error"}`:  0,
		`flashwire_watch_items_seen_total`:              4,
		`flashwire_watch_alerts_total`:                  2,
		`flashwire_watch_held_total{reason="too_soon"}`: 0,
		`flashwire_watch_leases_held`:                   1,
		// Two stories pushed, two not flagged; each said once.
		`flashwire_watch_story_outcomes_total{outcome="pushed",source="` + src.ID + `"}`:  2,
		`flashwire_watch_story_outcomes_total{outcome="skipped",source="` + src.ID + `"}`: 2,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
}

// gather returns the registry's samples by name and labels.
func gather(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			if len(m.GetLabel()) > 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(labels, ",") + "}"
			}
			out[name] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

// TestStaleThenFreshOnce: a story first seen too old is skipped, and when a
// fresh version of it comes it is pushed once, however many instances poll
// it at the same time.
func TestStaleThenFreshOnce(t *testing.T) {
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		ctx := context.Background()
		feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 1, fixtureNow.Add(-5*time.Hour), time.Time{}))
		a, b := e.watcher(t, "a", nil), e.watcher(t, "b", nil)
		src := e.source(t, a, Source{URL: feed.URL})
		pollAll := func() {
			var wg sync.WaitGroup
			for _, w := range []*Watcher{a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := w.poll(ctx, src); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		pollAll()
		if n := len(e.events(t)); n != 0 {
			t.Fatalf("%d alerts of a stale version", n)
		}
		feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 1, fixtureNow.Add(-5*time.Minute), time.Time{}))
		pollAll()
		pollAll()
		if n := len(e.events(t)); n != 1 {
			t.Fatalf("got %d alerts of the fresh version, want 1", n)
		}
		list, err := a.Outcomes(ctx, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Outcome != OutcomePushed || list[1].Outcome != OutcomeSkipped {
			t.Fatalf("outcomes = %+v, want pushed after skipped", list)
		}
	})
}

// TestStaleInOneSourceFreshInAnother: the same version, too old for one
// source's max_age, is pushed by a source that allows older stories.
func TestStaleInOneSourceFreshInAnother(t *testing.T) {
	e := newWatchEnv(t)
	doc := ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 1, fixtureNow.Add(-90*time.Minute), time.Time{})
	strict, lenient := newFeedServer(t, doc), newFeedServer(t, doc)
	w := e.watcher(t, "a", nil)
	first := e.source(t, w, Source{URL: strict.URL, MaxAge: "1h"})
	second := e.source(t, w, Source{URL: lenient.URL, MaxAge: "2h"})
	runOnce(t, w, first.ID)
	if n := len(e.events(t)); n != 0 {
		t.Fatalf("%d alerts from the strict source", n)
	}
	runOnce(t, w, second.ID)
	runOnce(t, w, first.ID)
	if n := len(e.events(t)); n != 1 {
		t.Fatalf("got %d alerts, want 1 from the lenient source", n)
	}
}
