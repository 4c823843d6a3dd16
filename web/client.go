package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// Timing and sizes of every live connection.
const (
	// writeWait bounds every single write to a client.
	writeWait = 10 * time.Second
	// pongWait is how long a WebSocket may stay silent: pings every
	// pingPeriod keep a live client talking.
	pongWait = 60 * time.Second
	// pingPeriod is below the 30 to 60 second idle timeouts of common
	// proxies and load balancers.
	pingPeriod = 25 * time.Second
	// maxMessageSize is the read limit: clients only send small control
	// frames.
	maxMessageSize = 4096
)

// transport is how one live connection carries frames: a WebSocket
// (wsTransport), written by the hub's pool of writers, or an SSE stream
// (sseTransport), written by its own handler goroutine. Only the holder of
// the client's right to write (client.writing) calls write.
type transport interface {
	// write writes one frame with a deadline of writeWait.
	write(f *frame) error
	// stop ends the connection at once, from any goroutine: it closes the
	// socket, or ends the SSE handler.
	stop()
}

// client is one live connection, WebSocket or SSE.
type client struct {
	hub     *Hub
	channel notifier.Channel // websocket or sse, for metrics and figures
	// id names the connection in the delivery figures, which count each
	// recipient once per alert across instances.
	id string
	ip string
	// conn carries the frames; set before the client is added to the hub.
	conn  transport
	queue chan *frame
	// writing is the right to write to conn: true while one goroutine
	// holds it. A WebSocket's handler holds it while it replays, then a
	// pool writer each time it drains the queue; whoever turns it from
	// false to true hands the client to the pool, so there is never more
	// than one writer. An SSE handler holds it for the stream's life and
	// drains the queue itself.
	writing atomic.Bool
	// skipUpTo drops queued events already replayed (or older than the
	// connection). Set by the handler before it gives up writing; read by
	// whoever holds writing.
	skipUpTo string
	prefs    atomic.Pointer[subscribers.Preferences]
	closed   atomic.Bool
}

func (h *Hub) newClient(channel notifier.Channel, ip string, prefs subscribers.Preferences) *client {
	c := &client{hub: h, channel: channel, id: strconv.FormatUint(rand.Uint64(), 36), ip: ip, queue: make(chan *frame, h.sendQueue)}
	c.prefs.Store(&prefs)
	c.writing.Store(true)
	return c
}

func (c *client) wants(a flashwire.Attrs, now time.Time) bool {
	return c.prefs.Load().Matches(a, now)
}

// enqueue queues f without waiting; false means the queue is full.
func (c *client) enqueue(f *frame) bool {
	select {
	case c.queue <- f:
	default:
		return false
	}
	// An SSE handler never gives up writing, so only a WebSocket goes
	// to the pool here.
	if c.writing.CompareAndSwap(false, true) {
		c.hub.ready <- c
	}
	return true
}

// handOver gives the right to write to the pool once the handler has
// written the hello and the replay.
func (c *client) handOver() {
	c.hub.ready <- c
}

// drain writes the queue until it is empty, then gives up the right to
// write; it runs on a pool writer holding that right.
func (c *client) drain() {
	for {
		select {
		case f := <-c.queue:
			c.writeFrame(f)
			continue
		default:
		}
		c.writing.Store(false)
		// A frame queued between the empty read and the Store found
		// writing still true and did not schedule us: take it back.
		if len(c.queue) == 0 || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// close ends the connection once; its reading side then cleans up.
func (c *client) close() {
	if c.closed.CompareAndSwap(false, true) && c.conn != nil {
		c.conn.stop()
	}
}

// duplicate reports whether event frame f was already sent or predates the
// connection.
func (c *client) duplicate(f *frame) bool {
	return c.skipUpTo != "" && flashwire.CompareEventIDs(f.seq, c.skipUpTo) <= 0
}

// written notes an event frame's delivery in the metrics and its fan-out.
func (c *client) written(f *frame, err error) {
	if err != nil {
		f.finished(c, false, 0)
		return
	}
	latency := c.hub.now().Sub(f.appended)
	m := c.hub.metrics.per[c.channel]
	m.written.Inc()
	m.latency.Observe(latency.Seconds())
	f.finished(c, true, latency)
}

// readPump owns reads of one WebSocket: the read limit, the read deadline
// that pongs extend, and the client's subscribe and ping frames. It is the
// connection's only goroutine; writes are the pool's (see Hub). When the
// connection ends, for any reason, it removes the client from the hub.
func (c *client) readPump(ws *websocket.Conn) {
	defer func() {
		c.hub.remove(c)
		c.close()
		c.hub.release(c.channel, c.ip)
	}()
	ws.SetReadLimit(maxMessageSize)
	_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(pongWait))
		if reply := c.handleMessage(data); reply != nil && !c.enqueue(reply) {
			c.hub.dropSlow([]*client{c})
			return
		}
	}
}

// Replies that never change, encoded once.
var (
	pongFrame = &frame{kind: frameText, data: []byte(`{"type":"pong"}`)}
)

// clientMessage is any frame a browser sends.
type clientMessage struct {
	Type        string             `json:"type"`
	Topics      []string           `json:"topics"`
	Regions     []string           `json:"regions"`
	Lang        []string           `json:"lang"`
	MinPriority flashwire.Priority `json:"min_priority"`
}

// subscribed confirms a subscribe frame with the filters now in force.
type subscribed struct {
	Type        string             `json:"type"`
	Topics      []string           `json:"topics"`
	Regions     []string           `json:"regions"`
	Lang        []string           `json:"lang"`
	MinPriority flashwire.Priority `json:"min_priority"`
}

// handleMessage answers one client frame; nil means no reply.
func (c *client) handleMessage(data []byte) *frame {
	var m clientMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return errorFrame("frame is not a JSON object")
	}
	switch m.Type {
	case "ping":
		return pongFrame
	case "subscribe":
		for _, l := range [][]string{m.Topics, m.Regions, m.Lang} {
			if len(l) > maxFilterValues {
				return errorFrame(fmt.Sprintf("a filter has more than %d values", maxFilterValues))
			}
		}
		if m.MinPriority != "" && m.MinPriority.Rank() == 0 {
			return errorFrame("min_priority must be flash, urgent or normal")
		}
		// Quiet hours and pauses of a stored reader stay in force.
		p := *c.prefs.Load()
		p.Topics, p.Regions, p.Languages = flashwire.NormalizeSlugs(m.Topics), flashwire.NormalizeSlugs(m.Regions), flashwire.NormalizeSlugs(m.Lang)
		p.MinPriority = m.MinPriority
		c.prefs.Store(&p)
		body, _ := json.Marshal(subscribed{Type: "subscribed", Topics: p.Topics, Regions: p.Regions, Lang: p.Languages, MinPriority: p.MinPriority})
		return &frame{kind: frameText, data: body}
	}
	return errorFrame(fmt.Sprintf("unknown frame type %q", m.Type))
}

func errorFrame(text string) *frame {
	body, _ := json.Marshal(map[string]string{"type": "error", "error": text})
	return &frame{kind: frameText, data: body}
}

// writeFrame writes f with the connection's transport; the caller holds
// the right to write (client.writing). A failed write ends the connection,
// and so does a written goodbye once the client had time to answer it.
func (c *client) writeFrame(f *frame) {
	if f.kind == frameEvent && c.duplicate(f) {
		f.fanout.skip()
		return
	}
	if c.closed.Load() {
		if f.kind == frameEvent {
			c.written(f, net.ErrClosed)
		}
		return
	}
	err := c.conn.write(f)
	if f.kind == frameEvent {
		c.written(f, err)
	}
	if err != nil {
		c.close()
	}
}

// abandon counts what is left in the queue of a client that has left the
// hub as not delivered, so its alerts' figures are still reported. Only
// the holder of the right to write may call it.
func (c *client) abandon() {
	for {
		select {
		case f := <-c.queue:
			switch {
			case f.kind != frameEvent:
			case c.duplicate(f):
				f.fanout.skip()
			default:
				f.finished(c, false, 0)
			}
		default:
			return
		}
	}
}

// wsTransport is a WebSocket, written by the hub's pool of writers.
type wsTransport struct {
	ws *websocket.Conn
}

func (t wsTransport) write(f *frame) error {
	deadline := time.Now().Add(writeWait)
	switch f.kind {
	case frameEvent:
		_ = t.ws.SetWriteDeadline(deadline)
		return t.ws.WritePreparedMessage(f.pm)
	case frameText:
		_ = t.ws.SetWriteDeadline(deadline)
		return t.ws.WriteMessage(websocket.TextMessage, f.data)
	case framePing:
		return t.ws.WriteControl(websocket.PingMessage, nil, deadline)
	case frameClose:
		msg := websocket.FormatCloseMessage(websocket.CloseServiceRestart, fmt.Sprintf(`{"retry_ms":%d}`, f.retryMS))
		if err := t.ws.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
			return err
		}
		// Let the client answer the close before readPump gives up.
		return t.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	}
	return nil
}

func (t wsTransport) stop() { _ = t.ws.NetConn().Close() }

// sseTransport is a Server-Sent Events stream, written by its handler.
type sseTransport struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// cancel ends the handler's context, and with it the stream.
	cancel context.CancelFunc
}

// writeRaw writes b to the stream and flushes it, within writeWait.
func (t sseTransport) writeRaw(b []byte) error {
	_ = t.rc.SetWriteDeadline(time.Now().Add(writeWait))
	if _, err := t.w.Write(b); err != nil {
		return err
	}
	return t.rc.Flush()
}

func (t sseTransport) write(f *frame) error {
	switch f.kind {
	case frameEvent:
		return t.writeRaw(f.sse)
	case frameText:
		if f.sse == nil {
			return nil // replies to WebSocket client frames only
		}
		return t.writeRaw(f.sse)
	case framePing:
		// A comment line keeps proxies from closing an idle stream.
		return t.writeRaw([]byte(": ping\n\n"))
	case frameClose:
		err := t.writeRaw([]byte("retry: " + strconv.Itoa(f.retryMS) + "\n\n"))
		t.cancel()
		return err
	}
	return nil
}

func (t sseTransport) stop() { t.cancel() }
