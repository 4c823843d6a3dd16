package watch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"flashwire"
)

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

// TestUnpushableHeld: a flagged story that cannot go out as it is (here,
// no headline) is held with the reason, never dropped; an editor's fix
// makes it sendable.
func TestUnpushableHeld(t *testing.T) {
	e := newWatchEnv(t)
	ctx := context.Background()
	feed := newFeedServer(t, []byte(`{"uri": "urn:newsml:wire.example:20171111:blank-1", "urgency": 1,
		"versioncreated": "2017-11-11T08:58:00Z", "links": [{"href": "https://wire.example/blank-1", "rel": "canonical"}]}`))
	w := e.watcher(t, "a", nil)
	src := e.source(t, w, Source{URL: feed.URL})
	runOnce(t, w, src.ID)
	held, err := w.Held(ctx)
	if err != nil || len(held) != 1 || !strings.Contains(held[0].Reason, "cannot be pushed as it is") || !strings.Contains(held[0].Reason, "headline") {
		t.Fatalf("held = %+v, %v", held, err)
	}
	if _, err := w.Edit(ctx, held[0].ID, HeldPatch{Headline: ptr("")}); !errors.Is(err, flashwire.ErrInvalid) {
		t.Fatalf("empty headline: err = %v, want ErrInvalid", err)
	}
	if _, err := w.Edit(ctx, held[0].ID, HeldPatch{Headline: ptr("Blank wire item explained")}); err != nil {
		t.Fatal(err)
	}
	// The feed's next poll leaves the editor's version alone.
	runOnce(t, w, src.ID)
	a, err := w.Send(ctx, held[0].ID)
	if err != nil || a.Headline != "Blank wire item explained" || a.URL != "https://wire.example/blank-1" {
		t.Fatalf("send: %+v, %v", a, err)
	}
}
