package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/subscribers"
)

func TestWebSocketOrigin(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, func(_ *HubConfig, c *Config) {
		c.AllowedOrigins = []string{"https://partner.example.com"}
		c.PublicURL = "https://alerts.example.com"
	})
	host := strings.TrimPrefix(env.URL, "http://")
	cases := []struct {
		name   string
		origin string
		status int
	}{
		// Not a browser: no cross-site risk.
		{"NoOrigin", "", http.StatusSwitchingProtocols},
		// The page served by this instance.
		{"SameHost", "http://" + host, http.StatusSwitchingProtocols},
		// The public URL in front of the service.
		{"PublicURL", "https://alerts.example.com", http.StatusSwitchingProtocols},
		// A news site listed in FLASHWIRE_ALLOWED_ORIGINS.
		{"Allowed", "https://partner.example.com", http.StatusSwitchingProtocols},
		// Cross-site WebSocket hijacking.
		{"ErrCrossOrigin", "https://evil.example.net", http.StatusForbidden},
		// Same host name, other port: another origin.
		{"ErrOtherPort", "http://127.0.0.1:1", http.StatusForbidden},
		// Same host and port, other scheme: another origin too.
		{"ErrOtherScheme", "https://" + host, http.StatusForbidden},
		{"ErrPublicURLOtherScheme", "http://alerts.example.com", http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(env.wsURL(""), h)
			if conn != nil {
				conn.Close()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	t.Run("AnyOrigin", func(t *testing.T) {
		star := newLiveEnv(t, rdb, func(_ *HubConfig, c *Config) { c.AllowedOrigins = []string{"*"} })
		dial(t, star.wsURL(""), http.Header{"Origin": {"https://anyone.example.org"}})
	})
}

func TestWebSocketBadRequest(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	resp, err := http.Get(env.URL + "/ws?min_priority=loud&last_id=yesterday")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body errorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	var fields []string
	for _, f := range body.Fields {
		fields = append(fields, f.Field)
	}
	if resp.StatusCode != http.StatusBadRequest || strings.Join(fields, ",") != "min_priority,last_id" {
		t.Errorf("status %d fields %v, want 400 naming min_priority and last_id", resp.StatusCode, fields)
	}
}

func TestWebSocketLimits(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, func(h *HubConfig, _ *Config) { h.MaxConnectionsPerIP = 2; h.MaxConnections = 3 })
	dial(t, env.wsURL(""), nil)
	dial(t, env.wsURL(""), nil)
	_, resp, err := websocket.DefaultDialer.Dial(env.wsURL(""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection from one address: %v, want 429", err)
	}
	if n := counter(t, env.reg, "flashwire_live_refused_total", "reason=max_per_ip"); n != 1 {
		t.Errorf("refused max_per_ip = %v, want 1", n)
	}
}

func TestWebSocketClientFrames(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	c := dial(t, env.wsURL("topics=world"), nil)

	t.Run("Ping", func(t *testing.T) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		if m := c.next(t); m["type"] != "pong" {
			t.Errorf("reply = %v, want pong", m)
		}
	})
	t.Run("Subscribe", func(t *testing.T) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","topics":["Sport"],"regions":[],"lang":["en"],"min_priority":"urgent"}`)); err != nil {
			t.Fatal(err)
		}
		m := c.next(t)
		if m["type"] != "subscribed" || m["min_priority"] != "urgent" || len(m["topics"].([]any)) != 1 || m["topics"].([]any)[0] != "sport" {
			t.Fatalf("reply = %v, want subscribed to sport, urgent", m)
		}
		env.publish(t, flashwire.Alert{Headline: "world", Topics: []string{"world"}, Priority: flashwire.Flash})
		env.publish(t, flashwire.Alert{Headline: "sport normal", Topics: []string{"sport"}})
		env.publish(t, flashwire.Alert{Headline: "sport flash", Topics: []string{"sport"}, Priority: flashwire.Flash})
		env.publish(t, everyone("stop"))
		if got := c.headlinesUntil(t, "stop"); strings.Join(got, ",") != "sport flash" {
			t.Errorf("after subscribe got %v, want [sport flash]", got)
		}
	})
	t.Run("ErrUnknownTopic", func(t *testing.T) {
		// A typo in a site's widget: refused as the query of /ws is, and
		// the filters in force stay.
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","topics":["sport","wrold"],"regions":["atlantis"]}`)); err != nil {
			t.Fatal(err)
		}
		m := c.next(t)
		text, _ := m["error"].(string)
		if m["type"] != "error" || !strings.Contains(text, `"wrold" is not a known topic`) || !strings.Contains(text, `"atlantis" is not a known region`) {
			t.Fatalf("reply = %v, want an error naming the unknown topic and region", m)
		}
		env.publish(t, flashwire.Alert{Headline: "world", Topics: []string{"world"}, Priority: flashwire.Flash})
		env.publish(t, flashwire.Alert{Headline: "sport flash", Topics: []string{"sport"}, Priority: flashwire.Flash})
		env.publish(t, everyone("stop"))
		if got := c.headlinesUntil(t, "stop"); strings.Join(got, ",") != "sport flash" {
			t.Errorf("after a refused subscribe got %v, want the filters before it: [sport flash]", got)
		}
	})
	t.Run("ErrUnknownType", func(t *testing.T) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"dance"}`)); err != nil {
			t.Fatal(err)
		}
		if m := c.next(t); m["type"] != "error" {
			t.Errorf("reply = %v, want error", m)
		}
	})
	t.Run("RetargetedCorrection", func(t *testing.T) {
		// The connection wants sport. An update that moves an alert out of
		// its filter reaches it as a retraction, one that moves the alert
		// into it as the alert itself, with the updated content; the final
		// retraction reaches only those the last version was for.
		ctx := context.Background()
		update := func(id, headline, topic string) flashwire.Alert {
			t.Helper()
			u, err := env.alerts.Update(ctx, id, flashwire.Alert{Headline: headline, URL: "https://news.example.com/story", Topics: []string{topic}, Priority: flashwire.Flash})
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		a := env.publish(t, flashwire.Alert{Headline: "wrong desk", Topics: []string{"sport"}, Priority: flashwire.Flash})
		update(a.ID, "right desk", "business")
		update(a.ID, "back on the sport desk", "sport")
		b := env.publish(t, flashwire.Alert{Headline: "business only", Topics: []string{"business"}, Priority: flashwire.Flash})
		update(b.ID, "now sport too", "sport")
		if _, err := env.alerts.Retract(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		update(a.ID, "business after all", "business")
		if _, err := env.alerts.Retract(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		env.publish(t, everyone("stop"))
		var got []string
		for {
			m := c.next(t)
			if al, ok := m["alert"].(map[string]any); ok && al["headline"] == "stop" {
				break
			}
			switch m["type"] {
			case "alert", "update":
				got = append(got, fmt.Sprintf("%s %s", m["type"], m["alert"].(map[string]any)["headline"]))
			case "retract":
				name := map[any]string{a.ID: "a", b.ID: "b"}[m["id"]]
				got = append(got, "retract "+name)
			}
		}
		want := []string{"alert wrong desk", "retract a", "alert back on the sport desk", "alert now sport too", "retract b", "retract a"}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("frames = %v\nwant %v", got, want)
		}
	})
	t.Run("UpdateRetract", func(t *testing.T) {
		a := env.publish(t, flashwire.Alert{Headline: "first take", Topics: []string{"sport"}, Priority: flashwire.Flash})
		if _, err := env.alerts.Update(context.Background(), a.ID, flashwire.Alert{Headline: "second take", URL: a.URL, Topics: []string{"sport"}, Priority: flashwire.Flash}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.alerts.Retract(context.Background(), a.ID); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for len(kinds) < 3 {
			m := c.next(t)
			kinds = append(kinds, m["type"].(string))
			if m["type"] == "retract" && m["id"] != a.ID {
				t.Errorf("retract = %v, want id %s", m, a.ID)
			}
		}
		if strings.Join(kinds, ",") != "alert,update,retract" {
			t.Errorf("frames = %v", kinds)
		}
	})
}

// TestWebSocketShutdown: on shutdown clients get close code 1012 with a
// reconnect hint.
func TestWebSocketShutdown(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	c := dial(t, env.wsURL(""), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { env.hub.Shutdown(ctx); close(done) }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
		t.Fatalf("read after shutdown: %v, want close 1012", err)
	}
	var hint struct {
		RetryMS int `json:"retry_ms"`
	}
	if err := json.Unmarshal([]byte(ce.Text), &hint); err != nil || hint.RetryMS < 1000 || hint.RetryMS >= 10000 {
		t.Errorf("close reason %q, want {\"retry_ms\":N} with N in [1000, 10000)", ce.Text)
	}
	<-done
	if _, resp, err := websocket.DefaultDialer.Dial(env.wsURL(""), nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v, want 503", err)
	}
}

func TestWebSocketReaderPreferences(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	store := subscribers.NewStore(rdb)
	id := subscribers.NewReaderID()
	if _, _, err := store.PutReader(context.Background(), id, subscribers.Preferences{Topics: []string{"sport"}}); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		c := dial(t, env.wsURL("reader="+id), nil)
		env.publish(t, flashwire.Alert{Headline: "world", Topics: []string{"world"}})
		env.publish(t, flashwire.Alert{Headline: "sport", Topics: []string{"sport"}})
		env.publish(t, everyone("stop"))
		if got := c.headlinesUntil(t, "stop"); strings.Join(got, ",") != "sport" {
			t.Errorf("stored preferences let through %v, want [sport]", got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial(env.wsURL("reader="+subscribers.NewReaderID()), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown reader: %v, want 404", err)
		}
	})
}

// TestWebSocketReadLoop: with no poller (no epoll on the system), each
// WebSocket is read by a goroutine of its own, with the same answers,
// deliveries and goodbyes.
func TestWebSocketReadLoop(t *testing.T) {
	env := newEnv(t, envOptions{stats: true, hub: true, readTimeout: time.Second, noPoller: true})
	c := dial(t, env.wsURL(""), nil)
	leaving := dial(t, env.wsURL(""), nil)
	if err := c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if m := c.next(t); m["type"] != "pong" {
		t.Fatalf("reply = %v, want pong", m)
	}
	env.publish(t, everyone("to all"))
	if m := c.next(t); m["type"] != "alert" {
		t.Fatalf("got %v, want the alert", m)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := leaving.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the closing client leaves the hub", func() bool {
		return env.hub.count() == 1 && counter(t, env.reg, "flashwire_live_connections", "transport=websocket") == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go env.hub.Shutdown(ctx)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ce *websocket.CloseError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
		t.Fatalf("read after shutdown: %v, want close 1012", err)
	}
	eventually(t, "the last client leaves the hub", func() bool { return env.hub.count() == 0 })
}
