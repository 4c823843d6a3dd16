package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// TestStaleUpdate: the instance that marked a pushed story "updating" died,
// before or after its update went through.
func TestStaleUpdate(t *testing.T) {
	const (
		first  = "Kremlin: joint statement on Syria"
		second = "Kremlin, White House: joint statement on Syria"
	)
	created := fixtureNow.Add(-5 * time.Minute)
	tests := []struct {
		name    string
		updated bool   // the dead instance's update went through
		status  string // the feed's status when the next instance polls
		// wantUpdates are the headlines of the Updated events after the
		// stale poll; wantRetracted whether the alert was retracted.
		wantUpdates   []string
		wantRetracted bool
		wantState     string
	}{
		// Died before updating: the next poll after the lease sends the
		// update, once.
		{"Died", false, StatusUsable, []string{second}, false, statePushed},
		// Died after updating, before recording it: the alert already
		// carries the headline, so no second update; the record catches up.
		{"UpdatedUnrecorded", true, StatusUsable, nil, false, statePushed},
		// Died before updating, and the feed now cancels the story: the
		// retraction wins.
		{"DiedFeedCanceled", false, StatusCanceled, nil, true, stateRetracted},
		// Died before updating, and the feed withholds the story now: the
		// update begun is finished with the version recorded.
		{"DiedFeedWithheld", false, StatusWithheld, []string{second}, false, statePushed},
	}
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				// Each case its own story, so one Redis serves them all.
				id := fmt.Sprintf("syria-update-%d", i)
				doc := func(headline, status string) []byte {
					return bytes.ReplaceAll(ninjsDoc(headline, status, 2, created, time.Time{}), []byte("syria-1"), []byte(id))
				}
				feed := newFeedServer(t, doc(first, StatusUsable))
				w := e.watcher(t, "a", nil)
				src := e.source(t, w, Source{URL: feed.URL})
				runOnce(t, w, src.ID)
				hash := storyHash(src.ID, strings.Replace(syriaURI, "syria-1", id, 1))
				state, alertID := storyState(t, e, hash)
				if state != statePushed {
					t.Fatalf("record = %s, want pushed", state)
				}
				// What updateStory does before Service.Update, then the
				// instance dies.
				a := feedAlert(t, w, src, doc(second, StatusUsable))
				if _, moved, err := w.move(ctx, hash, statePushed, stateUpdating, first, "", draftJSON(a)); err != nil || !moved {
					t.Fatalf("move: %v, %v", moved, err)
				}
				if tt.updated {
					if _, err := e.svc.Update(ctx, alertID, a); err != nil {
						t.Fatal(err)
					}
				}
				before := len(updates(t, e, alertID))
				feed.set(doc(second, tt.status))
				runOnce(t, w, src.ID)
				if n := len(updates(t, e, alertID)); n != before {
					t.Fatalf("%d updates while the mark is fresh, want %d", n, before)
				}
				if got := headlineOf(t, e, hash); got != first {
					t.Fatalf("record headline while updating = %q, want the one sent, %q", got, first)
				}
				e.clock.Add(3 * time.Second) // past LeaseTTL
				runOnce(t, w, src.ID)
				runOnce(t, w, src.ID)
				e.clock.Add(3 * time.Second)
				runOnce(t, w, src.ID)
				if got := updates(t, e, alertID)[before:]; strings.Join(got, "|") != strings.Join(tt.wantUpdates, "|") {
					t.Fatalf("updates after the stale poll = %q, want %q", got, tt.wantUpdates)
				}
				if n := retractions(t, e, alertID); (n == 1) != tt.wantRetracted || n > 1 {
					t.Fatalf("%d retractions of %s, want retracted %v", n, alertID, tt.wantRetracted)
				}
				if state, got := storyState(t, e, hash); state != tt.wantState || got != alertID {
					t.Fatalf("record = %s %s, want %s %s", state, got, tt.wantState, alertID)
				}
				if tt.wantState == statePushed {
					if got := headlineOf(t, e, hash); got != second {
						t.Fatalf("record headline = %q, want %q", got, second)
					}
				}
				if got, err := w.Source(ctx, src.ID); err != nil || got.State.LastError != "" {
					t.Fatalf("last_error = %q, %v; want none", got.State.LastError, err)
				}
			})
		}
	})
}

// TestStaleUpdateOneInstance: two instances find the same stale mark; only
// the one that takes it over sends the update.
func TestStaleUpdateOneInstance(t *testing.T) {
	const second = "Kremlin, White House: joint statement on Syria"
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		ctx := context.Background()
		created := fixtureNow.Add(-5 * time.Minute)
		feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, created, time.Time{}))
		w := e.watcher(t, "a", nil)
		other := e.watcher(t, "b", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		runOnce(t, w, src.ID)
		hash := storyHash(src.ID, syriaURI)
		_, alertID := storyState(t, e, hash)
		doc := ninjsDoc(second, StatusUsable, 2, created, time.Time{})
		stories, err := Parse(doc, FormatNinjs)
		if err != nil || len(stories) != 1 {
			t.Fatalf("parse: %v, %v", stories, err)
		}
		a := alertOf(w, src, stories[0])
		if _, moved, err := w.move(ctx, hash, statePushed, stateUpdating, "", "", draftJSON(a)); err != nil || !moved {
			t.Fatalf("move: %v, %v", moved, err)
		}
		e.clock.Add(3 * time.Second)
		// Both handle the story at once, as two pollers racing would.
		errs := make(chan error, 2)
		for _, x := range []*Watcher{w, other} {
			go func() { errs <- x.handle(ctx, src, stories[0], false) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := updates(t, e, alertID); len(got) != 1 || got[0] != second {
			t.Fatalf("updates = %q, want %q once", got, second)
		}
		if state, _ := storyState(t, e, hash); state != statePushed || headlineOf(t, e, hash) != second {
			t.Fatalf("record = %s %q, want pushed %q", state, headlineOf(t, e, hash), second)
		}
	})
}

// failingUpdate is the alert service with an update that always fails.
type failingUpdate struct {
	*notifier.Service
	calls atomic.Int32
}

func (f *failingUpdate) Update(ctx context.Context, id string, a flashwire.Alert) (flashwire.Alert, error) {
	f.calls.Add(1)
	return flashwire.Alert{}, errors.New("alert log unavailable")
}

// TestUpdateGivesUp: an update that keeps failing is retried a bounded
// number of times, then reported on the source on every poll until the
// alert carries the headline by other means; the story can still be
// retracted.
func TestUpdateGivesUp(t *testing.T) {
	const (
		first  = "Kremlin: joint statement on Syria"
		second = "Kremlin, White House: joint statement on Syria"
	)
	e := newWatchEnv(t)
	ctx := context.Background()
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc(first, StatusUsable, 2, created, time.Time{}))
	alerts := &failingUpdate{Service: e.svc}
	w := e.watcher(t, "a", func(c *Config) { c.Alerts = alerts })
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	hash := storyHash(src.ID, syriaURI)
	_, alertID := storyState(t, e, hash)
	feed.set(ninjsDoc(second, StatusUsable, 2, created, time.Time{}))
	pollsGiveUp(t, w, src.ID, alertID, maxUpdateAttempts)
	if n := alerts.calls.Load(); n != maxUpdateAttempts {
		t.Fatalf("Update called %d times, want %d", n, maxUpdateAttempts)
	}
	if state, _ := storyState(t, e, hash); state != statePushed || headlineOf(t, e, hash) != first {
		t.Fatalf("record = %s %q, want pushed with the headline sent, %q", state, headlineOf(t, e, hash), first)
	}
	// An editor corrects the alert: the record catches up, the error goes.
	a := feedAlert(t, w, src, ninjsDoc(second, StatusUsable, 2, created, time.Time{}))
	if _, err := e.svc.Update(ctx, alertID, a); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w, src.ID)
	if got := headlineOf(t, e, hash); got != second {
		t.Fatalf("record headline = %q, want %q", got, second)
	}
	if got, err := w.Source(ctx, src.ID); err != nil || got.State.LastError != "" {
		t.Fatalf("last_error = %q, %v; want none", got.State.LastError, err)
	}
	// The story's cancellation still retracts its alert.
	feed.set(ninjsDoc(second, StatusCanceled, 2, created, time.Time{}))
	runOnce(t, w, src.ID)
	if n := retractions(t, e, alertID); n != 1 {
		t.Fatalf("%d retractions, want 1", n)
	}
}

// feedAlert is the alert the watcher makes of the one story of doc.
func feedAlert(tb testing.TB, w *Watcher, src Source, doc []byte) flashwire.Alert {
	tb.Helper()
	stories, err := Parse(doc, FormatNinjs)
	if err != nil || len(stories) != 1 {
		tb.Fatalf("parse: %v, %v", stories, err)
	}
	return alertOf(w, src, stories[0])
}

// headlineOf returns the headline a story's record says was sent.
func headlineOf(tb testing.TB, e *watchEnv, hash string) string {
	tb.Helper()
	h, err := e.rdb.HGet(context.Background(), keyStory+hash, "headline").Result()
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// updates returns the headlines of the Updated events of one alert in the
// log, oldest first.
func updates(tb testing.TB, e *watchEnv, alertID string) []string {
	tb.Helper()
	var out []string
	for _, ev := range e.events(tb) {
		if ev.Type == flashwire.Updated && ev.Alert.ID == alertID {
			out = append(out, ev.Alert.Headline)
		}
	}
	return out
}
