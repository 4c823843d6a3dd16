package web

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire/internal/redistest"
)

// polled returns how many of the hub's WebSockets the poller waits on,
// and how many the hub holds.
func (h *Hub) polled() (polled, all int) {
	h.poller.mu.Lock()
	polled = len(h.poller.conns)
	h.poller.mu.Unlock()
	return polled, h.count()
}

// pingFrame is the widget's {"type":"ping"} as a masked client frame.
var pingFrame = clientFrame(true, opText, []byte(`{"type":"ping"}`))

// expectPong reads frames until the server's {"type":"pong"}.
func expectPong(tb testing.TB, c *liveClient) {
	tb.Helper()
	for {
		if m := c.next(tb); m["type"] == "pong" {
			return
		}
	}
}

// TestPollerIdle: many idle connections wait with no reader; a frame on
// one is read and answered while the others stay idle.
func TestPollerIdle(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	// More than the poller's readers: a reader held by one socket
	// would show.
	const idle = 2 * pollReaders
	var clients []*liveClient
	for range idle {
		clients = append(clients, dial(t, env.wsURL(""), nil))
	}
	eventually(t, "every connection waits in the poller", func() bool {
		polled, all := env.hub.polled()
		return polled == idle && all == idle
	})
	// A lone pong on each: gorilla, had it read one, would block its
	// reader waiting for the next frame.
	for _, c := range clients {
		if err := c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	last := clients[len(clients)-1]
	if err := last.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	expectPong(t, last)
	env.publish(t, everyone("to all"))
	for i, c := range clients {
		if m := c.next(t); m["type"] != "alert" {
			t.Fatalf("client %d got %v, want the alert", i, m)
		}
	}
	if polled, all := env.hub.polled(); polled != idle || all != idle {
		t.Errorf("after the frames: %d of %d connections polled, want %d of %d", polled, all, idle, idle)
	}
}

// TestPollerBuffered: frames that arrive together are all read, though
// after the first the rest wait in the connection's buffer, where epoll
// does not see them.
func TestPollerBuffered(t *testing.T) {
	_, rdb := redistest.Start(t)
	// Its long subscribe frame names topics no newsroom has: this hub
	// takes any slug (the taxonomy check is TestWebSocketClientFrames').
	env := newLiveEnv(t, rdb, func(h *HubConfig, _ *Config) { h.Taxonomy = nil })
	c := dial(t, env.wsURL(""), nil)
	raw := c.NetConn()
	write := func(b []byte) {
		t.Helper()
		if _, err := raw.Write(b); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Together", func(t *testing.T) {
		pong := clientFrame(true, opPong, nil)
		write(bytes.Join([][]byte{pingFrame, pong, pingFrame, clientFrame(true, opPing, []byte("p")), pingFrame}, nil))
		for range 3 {
			expectPong(t, c)
		}
	})
	t.Run("CutShort", func(t *testing.T) {
		// A whole frame and the start of the next, then the rest.
		write(append(append([]byte{}, pingFrame...), pingFrame[:5]...))
		expectPong(t, c)
		write(pingFrame[5:])
		expectPong(t, c)
	})
	t.Run("LongerThanBuffer", func(t *testing.T) {
		// maxFilterValues topics of 20 letters: about 1.2 KB.
		topics := make([]string, maxFilterValues)
		for i := range topics {
			topics[i] = fmt.Sprintf("%q", fmt.Sprintf("topic-%014d", i))
		}
		msg := []byte(`{"type":"subscribe","topics":[` + strings.Join(topics, ",") + `]}`)
		if len(msg) <= readBufferSize {
			t.Fatalf("message of %d bytes fits the buffer", len(msg))
		}
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		m := c.next(t)
		if m["type"] != "subscribed" || len(m["topics"].([]any)) != maxFilterValues {
			t.Fatalf("reply = %v, want subscribed to %d topics", m, maxFilterValues)
		}
		write(pingFrame)
		expectPong(t, c)
	})
}

// TestPollerIdleTimeout: a connection silent past pongWait is closed and
// leaves the hub. The sweep is run with a clock moved past it.
func TestPollerIdleTimeout(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	silent := dial(t, env.wsURL(""), nil)
	eventually(t, "the connection waits in the poller", func() bool {
		polled, _ := env.hub.polled()
		return polled == 1
	})
	env.hub.poller.sweep(time.Now().Add(pongWait - time.Second))
	if polled, all := env.hub.polled(); polled != 1 || all != 1 {
		t.Fatalf("before pongWait: %d polled of %d, want the connection kept", polled, all)
	}
	env.hub.poller.sweep(time.Now().Add(pongWait + time.Second))
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ne net.Error
	if _, _, err := silent.ReadMessage(); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read after the idle timeout: %v, want the connection closed", err)
	}
	eventually(t, "the silent connection leaves the hub and frees its slot", func() bool {
		polled, all := env.hub.polled()
		return polled == 0 && all == 0 && counter(t, env.reg, "flashwire_live_connections", "transport=websocket") == 0
	})
}

// TestPollerCloseWhileIdle: a client that leaves while idle, with a close
// frame or by dropping the connection, is noticed and leaves the hub.
func TestPollerCloseWhileIdle(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	polite := dial(t, env.wsURL(""), nil)
	abrupt := dial(t, env.wsURL(""), nil)
	stays := dial(t, env.wsURL(""), nil)
	eventually(t, "the connections wait in the poller", func() bool {
		polled, _ := env.hub.polled()
		return polled == 3
	})
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := polite.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = polite.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ce *websocket.CloseError
	if _, _, err := polite.ReadMessage(); !errors.As(err, &ce) {
		t.Errorf("after a close frame: %v, want the server's close frame", err)
	}
	if tc, ok := abrupt.NetConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not a goodbye
	}
	_ = abrupt.NetConn().Close()
	eventually(t, "the two leave the hub", func() bool {
		polled, all := env.hub.polled()
		return polled == 1 && all == 1 && counter(t, env.reg, "flashwire_live_connections", "transport=websocket") == 1
	})
	if err := stays.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	expectPong(t, stays)
}

// TestPollerSlowSender: connections that send the start of a message
// longer than the read buffer and stall, three times as many as there are
// readers, hold up no one else's frames: were each to hold a reader for
// writeWait, the pong would take three times that.
func TestPollerSlowSender(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	long := clientFrame(true, opText, []byte(`{"type":"ping","pad":"`+strings.Repeat("x", 2*readBufferSize)+`"}`))
	for range 3 * pollReaders {
		slow := dial(t, env.wsURL(""), nil)
		if _, err := slow.NetConn().Write(long[:readBufferSize+64]); err != nil {
			t.Fatal(err)
		}
	}
	c := dial(t, env.wsURL(""), nil)
	if _, err := c.NetConn().Write(pingFrame); err != nil {
		t.Fatal(err)
	}
	expectPong(t, c)
}
