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

// TestStaleRetraction: the instance that marked a pushed story
// "retracting" died, before or after its retraction went through.
func TestStaleRetraction(t *testing.T) {
	const headline = "Kremlin: joint statement on Syria"
	created := fixtureNow.Add(-5 * time.Minute)
	tests := []struct {
		name      string
		retracted bool   // the dead instance's retraction went through
		status    string // the feed's status when the next instance polls
		want      int    // Retracted events after the stale poll
	}{
		// Died before retracting: the next poll after the lease retracts,
		// once.
		{"Died", false, StatusCanceled, 1},
		// Died before retracting, and the feed lists the story usable
		// again: a retraction begun is still finished.
		{"DiedFeedUsable", false, StatusUsable, 1},
		// Died after retracting, before recording it: no second
		// retraction; the record catches up.
		{"RetractedUnrecorded", true, StatusCanceled, 0},
	}
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				// Each case its own story, so one Redis serves them all.
				id := fmt.Sprintf("syria-retract-%d", i)
				doc := func(status string) []byte {
					return bytes.ReplaceAll(ninjsDoc(headline, status, 2, created, time.Time{}), []byte("syria-1"), []byte(id))
				}
				feed := newFeedServer(t, doc(StatusUsable))
				w := e.watcher(t, "a", nil)
				src := e.source(t, w, Source{URL: feed.URL})
				runOnce(t, w, src.ID)
				hash := storyHash(src.ID, strings.Replace(syriaURI, "syria-1", id, 1))
				state, alertID := storyState(t, e, hash)
				if state != statePushed {
					t.Fatalf("record = %s, want pushed", state)
				}
				// What cancelStory does before Service.Retract, then the
				// instance dies.
				if _, moved, err := w.move(ctx, hash, statePushed, stateRetracting, "", "", ""); err != nil || !moved {
					t.Fatalf("move: %v, %v", moved, err)
				}
				if tt.retracted {
					if _, err := e.svc.Retract(ctx, alertID); err != nil {
						t.Fatal(err)
					}
				}
				before := retractions(t, e, alertID)
				feed.set(doc(tt.status))
				runOnce(t, w, src.ID)
				if n := retractions(t, e, alertID); n != before {
					t.Fatalf("%d retractions while the mark is fresh, want %d", n, before)
				}
				e.clock.Add(3 * time.Second) // past LeaseTTL
				runOnce(t, w, src.ID)
				runOnce(t, w, src.ID)
				e.clock.Add(3 * time.Second)
				runOnce(t, w, src.ID)
				if n := retractions(t, e, alertID) - before; n != tt.want {
					t.Fatalf("%d new retractions of %s, want %d", n, alertID, tt.want)
				}
				if n := retractions(t, e, alertID); n != 1 {
					t.Fatalf("%s retracted %d times in all, want 1", alertID, n)
				}
				if state, id := storyState(t, e, hash); state != stateRetracted || id != alertID {
					t.Fatalf("record = %s %s, want retracted %s", state, id, alertID)
				}
				if got, err := w.Source(ctx, src.ID); err != nil || got.State.LastError != "" {
					t.Fatalf("last_error = %q, %v; want none", got.State.LastError, err)
				}
			})
		}
	})
}

// TestStaleRetractionOneInstance: two instances find the same stale mark;
// only the one that takes it over retracts.
func TestStaleRetractionOneInstance(t *testing.T) {
	eachWatchRedis(t, func(t *testing.T, e *watchEnv) {
		ctx := context.Background()
		feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 2, fixtureNow.Add(-5*time.Minute), time.Time{}))
		w := e.watcher(t, "a", nil)
		other := e.watcher(t, "b", nil)
		src := e.source(t, w, Source{URL: feed.URL})
		stories, err := Parse(ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 2, fixtureNow.Add(-5*time.Minute), time.Time{}), FormatNinjs)
		if err != nil || len(stories) != 1 {
			t.Fatalf("parse: %v, %v", stories, err)
		}
		hash := claimDead(t, e, src, syriaURI)
		pub, _, err := e.svc.Publish(ctx, alertOf(w, src, stories[0]), notifier.PublishOptions{Once: onceKey(hash)})
		if err != nil {
			t.Fatal(err)
		}
		e.rdb.HSet(ctx, keyStory+hash, "state", stateRetracting, "alert", pub.ID)
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
		if n := retractions(t, e, pub.ID); n != 1 {
			t.Fatalf("%d retractions, want 1", n)
		}
		if state, _ := storyState(t, e, hash); state != stateRetracted {
			t.Fatalf("record = %s, want retracted", state)
		}
	})
}

// failingRetract is the alert service with a retraction that always fails.
type failingRetract struct {
	*notifier.Service
	calls atomic.Int32
}

func (f *failingRetract) Retract(ctx context.Context, id string) (flashwire.Alert, error) {
	f.calls.Add(1)
	return flashwire.Alert{}, errors.New("alert log unavailable")
}

// TestRetractionGivesUp: a retraction that keeps failing is retried a
// bounded number of times, then reported on the source on every poll until
// the alert is retracted otherwise.
func TestRetractionGivesUp(t *testing.T) {
	e := newWatchEnv(t)
	ctx := context.Background()
	created := fixtureNow.Add(-5 * time.Minute)
	feed := newFeedServer(t, ninjsDoc("Kremlin: joint statement on Syria", StatusUsable, 2, created, time.Time{}))
	alerts := &failingRetract{Service: e.svc}
	w := e.watcher(t, "a", func(c *Config) { c.Alerts = alerts })
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	hash := storyHash(src.ID, syriaURI)
	_, alertID := storyState(t, e, hash)
	feed.set(ninjsDoc("Kremlin: joint statement on Syria", StatusCanceled, 2, created, time.Time{}))
	pollsGiveUp(t, w, src.ID, alertID, maxRetractAttempts)
	if n := alerts.calls.Load(); n != maxRetractAttempts {
		t.Fatalf("Retract called %d times, want %d", n, maxRetractAttempts)
	}
	if state, _ := storyState(t, e, hash); state != stateUnretracted {
		t.Fatalf("record = %s, want %s", state, stateUnretracted)
	}
	// An editor retracts the alert: the record catches up, the error goes.
	if _, err := e.svc.Retract(ctx, alertID); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w, src.ID)
	if state, _ := storyState(t, e, hash); state != stateRetracted {
		t.Fatalf("record = %s, want retracted", state)
	}
	if got, err := w.Source(ctx, src.ID); err != nil || got.State.LastError != "" {
		t.Fatalf("last_error = %q, %v; want none", got.State.LastError, err)
	}
}

// pollsGiveUp polls a source whose story's alert keeps failing
// ("alert log unavailable") a few more times than attempts: every poll
// must fail and report the alert and the cause on the source, and from poll
// attempts on say that it gave up.
func pollsGiveUp(tb testing.TB, w *Watcher, sourceID, alertID string, attempts int) {
	tb.Helper()
	ctx := context.Background()
	for i := 1; i <= attempts+3; i++ {
		if err := w.RunOnce(ctx, sourceID); err == nil {
			tb.Fatalf("poll %d: no error while the alert service fails", i)
		}
		got, err := w.Source(ctx, sourceID)
		if err != nil {
			tb.Fatal(err)
		}
		if !strings.Contains(got.State.LastError, alertID) || !strings.Contains(got.State.LastError, "alert log unavailable") {
			tb.Fatalf("poll %d: last_error = %q, want the alert and the cause", i, got.State.LastError)
		}
		if i >= attempts && !strings.Contains(got.State.LastError, "gave up after") {
			tb.Fatalf("poll %d: last_error = %q, want it to say it gave up", i, got.State.LastError)
		}
	}
}

// retractions counts the Retracted events of one alert in the log.
func retractions(tb testing.TB, e *watchEnv, alertID string) int {
	tb.Helper()
	n := 0
	for _, ev := range e.events(tb) {
		if ev.Type == flashwire.Retracted && ev.Alert.ID == alertID {
			n++
		}
	}
	return n
}
