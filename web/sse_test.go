package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
)

// sseEventRead is one event of a stream.
type sseEventRead struct {
	id, event string
	data      map[string]any
}

// openSSE opens GET /events with query and optional Last-Event-ID.
func openSSE(tb testing.TB, env *testEnv, query, lastEventID string) (*bufio.Reader, func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL+"/events?"+query, nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		tb.Fatalf("GET /events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	stop := func() { cancel(); resp.Body.Close() }
	tb.Cleanup(stop)
	return bufio.NewReader(resp.Body), stop
}

// readSSE reads the next event, skipping retry hints and comments.
func readSSE(tb testing.TB, r *bufio.Reader) sseEventRead {
	tb.Helper()
	type result struct {
		ev  sseEventRead
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEventRead
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && ev.event != "":
				ch <- result{ev: ev}
				return
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.data)
			}
		}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			tb.Fatalf("read SSE: %v", res.err)
		}
		return res.ev
	case <-time.After(10 * time.Second):
		tb.Fatal("no SSE event within 10s")
	}
	return sseEventRead{}
}

func TestSSEResume(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	r, stop := openSSE(t, env, "topics=world", "")
	if ev := readSSE(t, r); ev.event != "hello" || ev.data["recovered"] != true {
		t.Fatalf("first event = %+v, want hello", ev)
	}
	a1 := env.publish(t, flashwire.Alert{Headline: "one", Topics: []string{"world"}})
	ev := readSSE(t, r)
	if ev.event != "alert" || ev.id != a1.ID || ev.data["seq"] != a1.ID {
		t.Fatalf("live event = %+v, want alert %s", ev, a1.ID)
	}
	stop()

	// Missed while away: two for this filter, one not.
	env.publish(t, flashwire.Alert{Headline: "two", Topics: []string{"world"}})
	env.publish(t, flashwire.Alert{Headline: "sport", Topics: []string{"sport"}})
	env.publish(t, flashwire.Alert{Headline: "three", Topics: []string{"world"}})

	t.Run("LastEventID", func(t *testing.T) {
		r, _ := openSSE(t, env, "topics=world&last_id=0-1", a1.ID)
		hello := readSSE(t, r)
		if hello.event != "hello" || hello.id != "" || hello.data["recovered"] != true {
			t.Fatalf("hello = %+v, want recovered and no id (the replay moves the cursor)", hello)
		}
		var got []string
		for _, want := range []string{"two", "three"} {
			ev := readSSE(t, r)
			h, _ := ev.data["alert"].(map[string]any)["headline"].(string)
			got = append(got, h)
			if h != want {
				t.Fatalf("replayed %v, want two, three", got)
			}
		}
		live := env.publish(t, flashwire.Alert{Headline: "four", Topics: []string{"world"}})
		if ev := readSSE(t, r); ev.id != live.ID {
			t.Errorf("after replay got %+v, want live %s", ev, live.ID)
		}
	})
	t.Run("Origin", func(t *testing.T) {
		req, _ := http.NewRequest("GET", env.URL+"/events", nil)
		req.Header.Set("Origin", "https://evil.example.net")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status = %d, want 403", resp.StatusCode)
		}
	})
}

// TestSSEShutdown: on shutdown a stream gets a fresh retry hint and ends.
func TestSSEShutdown(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	r, _ := openSSE(t, env, "", "")
	if ev := readSSE(t, r); ev.event != "hello" {
		t.Fatalf("first event = %+v, want hello", ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	env.hub.Shutdown(ctx)
	rest, err := io.ReadAll(r)
	if err != nil || !strings.HasPrefix(string(rest), "retry: ") {
		t.Errorf("stream after shutdown = %q (%v), want a retry hint, then its end", rest, err)
	}
}

// TestSSERegionless: an alert without regions is for every region, live and
// replayed alike, while one for another region is not.
func TestSSERegionless(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	r, stop := openSSE(t, env, "regions=uk", "")
	if ev := readSSE(t, r); ev.event != "hello" {
		t.Fatalf("first event = %+v, want hello", ev)
	}
	everywhere := env.publish(t, flashwire.Alert{Headline: "everywhere", Topics: []string{"world"}})
	if ev := readSSE(t, r); ev.event != "alert" || ev.id != everywhere.ID {
		t.Fatalf("live event = %+v, want alert %s (no regions is every region)", ev, everywhere.ID)
	}
	stop()
	env.publish(t, flashwire.Alert{Headline: "us only", Topics: []string{"world"}, Regions: []string{"us"}})
	again := env.publish(t, flashwire.Alert{Headline: "everywhere again", Topics: []string{"world"}})
	r, _ = openSSE(t, env, "regions=uk", everywhere.ID)
	if ev := readSSE(t, r); ev.event != "hello" {
		t.Fatalf("first event = %+v, want hello", ev)
	}
	if ev := readSSE(t, r); ev.event != "alert" || ev.id != again.ID {
		t.Fatalf("replayed %+v, want alert %s and not the US one", ev, again.ID)
	}
}

// TestSSERetargetedReplay: replayed after Last-Event-ID, an update that
// moved an alert out of the stream's filter is a retraction, and one that
// moved another alert into it is that alert, with the updated content.
func TestSSERetargetedReplay(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	ctx := context.Background()
	out := env.publish(t, flashwire.Alert{Headline: "sport first", Topics: []string{"sport"}})
	in := env.publish(t, flashwire.Alert{Headline: "business first", Topics: []string{"business"}})
	for _, u := range []struct{ id, headline, topic string }{
		{out.ID, "business now", "business"},
		{in.ID, "sport now", "sport"},
	} {
		if _, err := env.alerts.Update(ctx, u.id, flashwire.Alert{Headline: u.headline, URL: "https://news.example.com/story", Topics: []string{u.topic}}); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := openSSE(t, env, "topics=sport", in.ID)
	if ev := readSSE(t, r); ev.event != "hello" {
		t.Fatalf("first event = %+v, want hello", ev)
	}
	if ev := readSSE(t, r); ev.event != "retract" || ev.data["id"] != out.ID {
		t.Errorf("first replayed = %+v, want the retraction of %s", ev, out.ID)
	}
	ev := readSSE(t, r)
	if a, _ := ev.data["alert"].(map[string]any); ev.event != "alert" || a["id"] != in.ID || a["headline"] != "sport now" {
		t.Errorf("second replayed = %+v, want alert %s as updated", ev, in.ID)
	}
}
