package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// publish publishes an alert through the instance's service.
func (e *testEnv) publish(tb testing.TB, a flashwire.Alert) flashwire.Alert {
	tb.Helper()
	if a.URL == "" {
		a.URL = "https://news.example.com/story"
	}
	out, _, err := e.alerts.Publish(context.Background(), a, notifier.PublishOptions{Force: true, SkipGap: true})
	if err != nil {
		tb.Fatalf("publish %q: %v", a.Headline, err)
	}
	return out
}

// wsURL is the instance's GET /ws address with query.
func (e *testEnv) wsURL(query string) string {
	u := "ws" + strings.TrimPrefix(e.URL, "http") + "/ws"
	if query != "" {
		u += "?" + query
	}
	return u
}

// liveClient is a test's WebSocket.
type liveClient struct {
	*websocket.Conn
	hello map[string]any
}

// dial opens a WebSocket and reads its hello.
func dial(tb testing.TB, url string, header http.Header) *liveClient {
	tb.Helper()
	return dialWith(tb, websocket.DefaultDialer, url, header)
}

func dialWith(tb testing.TB, d *websocket.Dialer, url string, header http.Header) *liveClient {
	tb.Helper()
	conn, resp, err := d.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	c := &liveClient{Conn: conn}
	c.hello = c.next(tb)
	if c.hello["type"] != "hello" {
		tb.Fatalf("first frame = %v, want hello", c.hello)
	}
	return c
}

// next reads one JSON frame, failing after a generous deadline.
func (c *liveClient) next(tb testing.TB) map[string]any {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("read frame: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		tb.Fatalf("frame %s: %v", data, err)
	}
	return m
}

// headlinesUntil reads alert frames until one whose headline starts with
// stop and returns the headlines before it.
func (c *liveClient) headlinesUntil(tb testing.TB, stop string) []string {
	tb.Helper()
	var out []string
	for {
		m := c.next(tb)
		if m["type"] != "alert" {
			continue
		}
		h := m["alert"].(map[string]any)["headline"].(string)
		if strings.HasPrefix(h, stop) {
			return out
		}
		out = append(out, h)
	}
}

// everyone is an alert every connection in these tests wants.
func everyone(headline string) flashwire.Alert {
	return flashwire.Alert{Headline: headline, URL: "https://news.example.com/stop", Topics: []string{"world", "sport", "business"}, Regions: []string{"uk", "us", "europe"}, Language: "en", Priority: flashwire.Flash}
}

// counter reads a metric's value from reg, summed over labels matching
// label (a "name=value" pair, or "" for all).
func counter(tb testing.TB, reg *prometheus.Registry, name, label string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			ok := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName()+"="+l.GetValue() == label {
					ok = true
				}
			}
			if !ok {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHubFilters(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	cases := []struct {
		query string
		want  []string
	}{
		// No filter: everything.
		{"", []string{"sport-uk", "world-us-urgent", "business-fr", "world-everywhere"}},
		// One topic.
		{"topics=sport", []string{"sport-uk"}},
		// Topics are any-of.
		{"topics=sport,world", []string{"sport-uk", "world-us-urgent", "world-everywhere"}},
		// Region filter; an alert without regions is for every region.
		{"regions=us", []string{"world-us-urgent", "world-everywhere"}},
		// Language compares the primary subtag.
		{"lang=fr", []string{"business-fr"}},
		// Minimum priority.
		{"min_priority=urgent", []string{"world-us-urgent"}},
		// Filters combine: topic and region must both match.
		{"topics=sport&regions=us", nil},
	}
	clients := make([]*liveClient, len(cases))
	for i, tc := range cases {
		clients[i] = dial(t, env.wsURL(tc.query), nil)
	}
	env.publish(t, flashwire.Alert{Headline: "sport-uk", Topics: []string{"sport"}, Regions: []string{"uk"}})
	env.publish(t, flashwire.Alert{Headline: "world-us-urgent", Topics: []string{"world"}, Regions: []string{"us"}, Priority: flashwire.Urgent})
	env.publish(t, flashwire.Alert{Headline: "business-fr", Topics: []string{"business"}, Regions: []string{"europe"}, Language: "fr-FR"})
	env.publish(t, flashwire.Alert{Headline: "world-everywhere", Topics: []string{"world"}})
	last := env.publish(t, everyone("stop"))
	fr := everyone("stop-fr")
	fr.Language = "fr"
	env.publish(t, fr)
	for i, tc := range cases {
		got := clients[i].headlinesUntil(t, "stop")
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%q got %v, want %v", tc.query, got, tc.want)
		}
	}

	t.Run("Online", func(t *testing.T) {
		// Three of the seven connections want a normal UK sport alert in English.
		if n := env.hub.Online(flashwire.Attrs{Topics: []string{"sport"}, Regions: []string{"uk"}, Language: "en", Priority: "normal"}); n != 3 {
			t.Errorf("Online = %d, want 3 (no filter, topics=sport, topics=sport,world)", n)
		}
	})
	t.Run("Stats", func(t *testing.T) {
		eventually(t, "stats of the last alert", func() bool {
			st, err := env.stats.Get(context.Background(), last.ID)
			// Every connection but lang=fr wants the English "stop".
			return err == nil && st[notifier.WebSocket].Reached == int64(len(cases)-1)
		})
	})
}

// TestHubResume reconnects while alerts keep coming: the client must get
// exactly the matching alerts after its last id, in order, none twice.
func TestHubResume(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	first := dial(t, env.wsURL("topics=world"), nil)
	a1 := env.publish(t, flashwire.Alert{Headline: "w0", Topics: []string{"world"}})
	m := first.next(t)
	if m["seq"] != a1.ID {
		t.Fatalf("first alert seq = %v, want %s", m["seq"], a1.ID)
	}
	_ = first.Close()

	// Publish while the client is away and while it reconnects.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 40; i++ {
			topic := "world"
			if i%3 == 0 {
				topic = "sport"
			}
			env.publish(t, flashwire.Alert{Headline: fmt.Sprintf("w%d", i), Topics: []string{topic}})
		}
	}()
	time.Sleep(20 * time.Millisecond)
	again := dial(t, env.wsURL("topics=world&last_id="+a1.ID), nil)
	if again.hello["recovered"] != true {
		t.Errorf("hello = %v, want recovered true", again.hello)
	}
	wg.Wait()
	env.publish(t, everyone("stop"))
	got := again.headlinesUntil(t, "stop")
	var want []string
	for i := 1; i <= 40; i++ {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("w%d", i))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after resume got\n%v\nwant\n%v", got, want)
	}

	t.Run("NotRecovered", func(t *testing.T) {
		// A log that keeps one event trims what the client would need.
		short := notifier.NewLog(rdb)
		short.KeepFor, short.KeepCount = time.Millisecond, 1
		svc := notifier.NewService(short, subscribers.NewStore(rdb))
		old, _, err := svc.Publish(context.Background(), everyone("old"), notifier.PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			time.Sleep(5 * time.Millisecond)
			if _, _, err := svc.Publish(context.Background(), everyone(fmt.Sprint("newer", i)), notifier.PublishOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		c := dial(t, env.wsURL("last_id="+old.ID), nil)
		if c.hello["recovered"] != false {
			t.Errorf("hello = %v, want recovered false", c.hello)
		}
		if n := counter(t, env.reg, "flashwire_live_resumes_total", "recovered=false"); n != 1 {
			t.Errorf("resumes not recovered = %v, want 1", n)
		}
	})
}

// smallReceiveBuffer makes a client whose socket holds little, so a client
// that stops reading backs up into the server quickly.
var smallReceiveBuffer = &websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	NetDial: func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		return d.Dial(network, addr)
	},
}

// TestHubStalledClient: a client that stops reading is dropped and counted
// while 1,000 others keep receiving every alert meant for them. However
// long it stalls, the server holds at most its socket's send buffer and
// its queue for it: it is dropped before much more than that has been
// published, never after megabytes.
func TestHubStalledClient(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, func(h *HubConfig, _ *Config) { h.SendQueue = 8 })
	const others = 1000
	var received atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*liveClient, others)
	for i := range conns {
		conns[i] = dial(t, env.wsURL("topics=world"), nil)
	}
	// The stalled client wants everything and never reads past its hello.
	stalled := dialWith(t, smallReceiveBuffer, env.wsURL(""), nil)
	_ = stalled

	const worldAlerts = 5
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < worldAlerts; {
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				if strings.Contains(string(data), `"type":"alert"`) {
					n++
					received.Add(1)
				}
			}
		}()
	}
	long := strings.Repeat("Filler for a summary that takes room. ", 10)
	// What the server may hold for the stalled client: its send buffer
	// (which Linux doubles), its queue, and as much again for what its
	// own socket and the loopback hold.
	sample, err := newEventFrame(flashwire.Event{ID: "1-0", Type: flashwire.Published,
		Alert: flashwire.Alert{ID: "1-0", Headline: "sport 1000", Summary: long, Topics: []string{"sport"}, URL: "https://news.example.com/story"}})
	if err != nil {
		t.Fatal(err)
	}
	frameLen := len(sample.sse)
	bound := (2*(2*liveSendBuffer+8*frameLen) + frameLen - 1) / frameLen
	// The kernel's share is capped: no autotuning to megabytes.
	if got := serverSendBuffer(t, env.hub, func(c *client) bool { return len(c.prefs.Load().Topics) == 0 }); got > 2*liveSendBuffer {
		t.Fatalf("the stalled client's socket may hold %d bytes, want at most %d", got, 2*liveSendBuffer)
	}
	published := 0
	for i := 0; counter(t, env.reg, "flashwire_live_slow_disconnects_total", "") == 0; i++ {
		if i >= bound {
			t.Fatalf("the stalled client was not dropped after %d alerts of %d bytes: the server holds more than its send buffer and queue for it", i, frameLen)
		}
		env.publish(t, flashwire.Alert{Headline: fmt.Sprint("sport ", i), Summary: long, Topics: []string{"sport"}})
		if i%20 == 0 && published < worldAlerts-1 {
			env.publish(t, flashwire.Alert{Headline: fmt.Sprint("world ", i), Topics: []string{"world"}})
			published++
		}
	}
	for ; published < worldAlerts; published++ {
		env.publish(t, flashwire.Alert{Headline: fmt.Sprint("world after ", published), Topics: []string{"world"}})
	}
	wg.Wait()
	if got := received.Load(); got != others*worldAlerts {
		t.Errorf("the others received %d alerts, want %d", got, others*worldAlerts)
	}
	eventually(t, "the stalled client leaves the connection count", func() bool {
		return counter(t, env.reg, "flashwire_live_connections", "") == others
	})
}

// serverSendBuffer returns the kernel send buffer size (SO_SNDBUF) of the
// server's end of the one WebSocket client that which picks.
func serverSendBuffer(tb testing.TB, h *Hub, which func(*client) bool) int {
	tb.Helper()
	h.mu.RLock()
	var found *client
	for c := range h.clients {
		if which(c) {
			found = c
		}
	}
	h.mu.RUnlock()
	ws, ok := found.conn.(*wsTransport)
	if !ok {
		tb.Fatal("no such WebSocket client")
	}
	raw, err := ws.ws.NetConn().(*net.TCPConn).SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var size int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || serr != nil {
		tb.Fatal(err, serr)
	}
	return size
}

// TestHubScaleOut: three instances on one Redis, and on a Redis Cluster,
// each deliver an alert published through any of them.
func TestHubScaleOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis func(t *testing.T) redis.UniversalClient
	}{
		{"OneRedis", func(t *testing.T) redis.UniversalClient { _, rdb := redistest.Start(t); return rdb }},
		{"Cluster", func(t *testing.T) redis.UniversalClient { _, rdb := redistest.StartCluster(t); return rdb }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := tc.redis(t)
			envs := make([]*testEnv, 3)
			var clients []*liveClient
			for i := range envs {
				envs[i] = newLiveEnv(t, rdb, nil)
				clients = append(clients, dial(t, envs[i].wsURL(""), nil), dial(t, envs[i].wsURL("topics=world"), nil))
			}
			for i, e := range envs {
				e.publish(t, flashwire.Alert{Headline: fmt.Sprint("via ", i), Topics: []string{"world"}})
			}
			for i, c := range clients {
				var got []string
				for range envs {
					m := c.next(t)
					got = append(got, m["alert"].(map[string]any)["headline"].(string))
				}
				if fmt.Sprint(got) != "[via 0 via 1 via 2]" {
					t.Errorf("client %d on instance %d got %v", i, i/2, got)
				}
			}
		})
	}
}

// TestHubFiguresCountReaders: one alert, one update and one retraction to
// two readers is 2 reached, with 2 updates and 2 retractions on their own.
func TestHubFiguresCountReaders(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	readers := []*liveClient{dial(t, env.wsURL("topics=world"), nil), dial(t, env.wsURL(""), nil)}
	a := env.publish(t, flashwire.Alert{Headline: "Summit opens", Topics: []string{"world"}})
	ctx := context.Background()
	if _, err := env.alerts.Update(ctx, a.ID, flashwire.Alert{Headline: "Summit opens late", URL: a.URL, Topics: []string{"world"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.alerts.Retract(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range readers {
		for _, want := range []string{"alert", "update", "retract"} {
			if m := c.next(t); m["type"] != want {
				t.Fatalf("frame %v, want %s", m, want)
			}
		}
	}
	var ws notifier.ChannelStats
	eventually(t, "the figures of all three events", func() bool {
		st, err := env.stats.Get(ctx, a.ID)
		ws = st[notifier.WebSocket]
		return err == nil && ws.Reached >= 2 && ws.Updates >= 2 && ws.Retractions >= 2
	})
	if ws.Reached != 2 || ws.Updates != 2 || ws.Retractions != 2 {
		t.Errorf("websocket figures = reached %d, updates %d, retractions %d; want 2, 2, 2", ws.Reached, ws.Updates, ws.Retractions)
	}
}

// TestHubFiguresRetargeted: a reader a correction moves the alert away from
// gets a retraction, counted as one; when the next correction brings it
// back, the reader is not counted as reached again.
func TestHubFiguresRetargeted(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	c := dial(t, env.wsURL("topics=sport"), nil)
	ctx := context.Background()
	a := env.publish(t, flashwire.Alert{Headline: "Transfer deal", Topics: []string{"sport"}})
	for _, topic := range []string{"business", "sport"} {
		if _, err := env.alerts.Update(ctx, a.ID, flashwire.Alert{Headline: "Transfer deal: " + topic, URL: a.URL, Topics: []string{topic}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"alert", "retract", "alert"} {
		if m := c.next(t); m["type"] != want {
			t.Fatalf("frame %v, want %s", m, want)
		}
	}
	// A later alert's figures are reported after those of the three
	// events, whose writes came first: once they are in, so are those.
	last := env.publish(t, flashwire.Alert{Headline: "Marker", Topics: []string{"sport"}})
	if m := c.next(t); m["seq"] != last.ID {
		t.Fatalf("frame %v, want the marker %s", m, last.ID)
	}
	eventually(t, "the figures of the marker", func() bool {
		st, err := env.stats.Get(ctx, last.ID)
		return err == nil && st[notifier.WebSocket].Reached == 1
	})
	var ws notifier.ChannelStats
	eventually(t, "the figures of the alert", func() bool {
		st, err := env.stats.Get(ctx, a.ID)
		ws = st[notifier.WebSocket]
		return err == nil && ws.Retractions >= 1 && ws.Reached >= 1
	})
	if ws.Reached != 1 || ws.Retractions != 1 || ws.Updates != 0 {
		t.Errorf("websocket figures = reached %d, updates %d, retractions %d; want 1, 0, 1", ws.Reached, ws.Updates, ws.Retractions)
	}
}
