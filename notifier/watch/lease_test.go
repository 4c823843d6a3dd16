package watch

import (
	"context"
	"errors"
	"testing"
	"time"

	"flashwire/internal/redistest"
	"flashwire/notifier"
)

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

func TestScheduleAndReloadAcrossInstances(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "feed.json"))
	running := e.watcher(t, "running", nil)
	start(t, running)
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

// TestNextRunIsTheSchedulesTick: a source's next_run is when its schedule
// fires next, not the time of the read plus the interval.
func TestNextRunIsTheSchedulesTick(t *testing.T) {
	e := newWatchEnv(t)
	feed := newFeedServer(t, readFixture(t, "feed.json"))
	w := e.watcher(t, "a", nil)
	start(t, w)
	src := e.source(t, w, Source{URL: feed.URL, Schedule: "@every 1h"})
	first, err := w.Source(context.Background(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10 * time.Minute)
	second, err := w.Source(context.Background(), src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := w.nextTick(src.ID); want.IsZero() || !first.State.NextRun.Equal(want) || !second.State.NextRun.Equal(want) {
		t.Fatalf("next_run %v, then %v; the schedule fires at %v", first.State.NextRun, second.State.NextRun, want)
	}
}
