package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
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
	// left is set once a WebSocket has left the hub (see leave).
	left atomic.Bool
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

// close ends the connection once, from any goroutine: a WebSocket leaves
// the hub at once, an SSE handler when its stream ends.
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

// leave takes a closed WebSocket out of the hub and frees its slot, once,
// whoever closed it: its reader, a writer, the pinger or a shutdown.
func (c *client) leave() {
	if c.left.CompareAndSwap(false, true) {
		c.hub.remove(c)
		c.hub.release(c.channel, c.ip)
	}
}

// readPump owns reads of one WebSocket while the poller has handed it
// over, the socket having become readable: it reads from the socket once,
// then every complete frame its buffer holds (readBuffered), so the poller
// waits for the next bytes. An error ends the connection.
func (c *client) readPump(t *wsTransport) error {
	// Bounds the read below and the rest of a message longer than the
	// buffer.
	_ = t.ws.SetReadDeadline(time.Now().Add(writeWait))
	if _, err := t.br.Peek(t.br.Buffered() + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	return c.readBuffered(t)
}

// errLongMessage: the buffer is full with the start of a message, whose
// rest must be waited for.
var errLongMessage = errors.New("message longer than the read buffer")

// readBuffered reads every complete frame the buffer holds and returns
// once none is left (a frame cut short waits in the buffer for its rest).
// Pongs and pings it answers itself: gorilla, having read a control frame,
// goes on to wait for the next frame.
func (c *client) readBuffered(t *wsTransport) error {
	br := t.br
	for br.Buffered() > 0 {
		b, _ := br.Peek(br.Buffered())
		kind, n := scanHeld(b)
		switch kind {
		case heldPartial:
			if br.Buffered() < br.Size() {
				return nil
			}
			return errLongMessage
		case heldPong:
			_, _ = br.Discard(n)
			t.extend(pongWait)
			continue
		case heldPing:
			payload := unmask(b, n)
			_, _ = br.Discard(n)
			t.extend(pongWait)
			if err := t.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(writeWait)); err != nil {
				return err
			}
			continue
		}
		if err := c.readMessage(t); err != nil {
			return err
		}
	}
	return nil
}

// readLoop is readPump for a WebSocket the poller cannot wait on (not a
// TCP socket, or no epoll): a goroutine of its own, blocked in reads under
// the pongWait deadline that pongs and messages extend.
func (c *client) readLoop(t *wsTransport) {
	defer c.close()
	t.extend(pongWait)
	for c.readMessage(t) == nil {
	}
}

// readMessage reads one client message, with the control frames before
// it, and queues the answer.
func (c *client) readMessage(t *wsTransport) error {
	_, data, err := t.ws.ReadMessage()
	if err != nil {
		return err
	}
	t.extend(pongWait)
	if reply := c.handleMessage(data); reply != nil && !c.enqueue(reply) {
		c.hub.dropSlow([]*client{c})
		return net.ErrClosed
	}
	return nil
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
		if problem := c.hub.checkSlugs(m.Topics, m.Regions); problem != "" {
			return errorFrame(problem)
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

// checkSlugs says what is wrong with a subscribe frame's topics and
// regions, as the query of /ws would be answered: a typo in a site's
// widget must not mean alerts that never arrive. "" means nothing; the
// filters in force stay as they were otherwise.
func (h *Hub) checkSlugs(topics, regions []string) string {
	if h == nil || h.taxonomy == nil || len(topics)+len(regions) == 0 {
		return ""
	}
	// A poller reader waits for this: bounded, and subscribe frames are
	// rare (one when a reader changes the widget's settings).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	known, knownRegions, err := h.taxonomy.KnownSlugs(ctx)
	if err != nil {
		h.logger.Warn("subscribe frame: topics not checked", "error", err.Error())
		return "the topic list cannot be read now; filters unchanged, try again"
	}
	var bad flashwire.InvalidError
	flashwire.CheckSlugs(&bad, "topics", "topic", flashwire.NormalizeSlugs(topics), known)
	flashwire.CheckSlugs(&bad, "regions", "region", flashwire.NormalizeSlugs(regions), knownRegions)
	if err := bad.Err(); err != nil {
		return err.Error() + "; filters unchanged"
	}
	return ""
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

// wsTransport is a WebSocket, written by the hub's pool of writers and
// read by the poller's readers (or by readLoop).
type wsTransport struct {
	c  *client
	ws *websocket.Conn
	// br is the buffer gorilla reads through (see ownBuffer).
	br *bufio.Reader
	// id is the poller's name for the socket, raw its descriptor: set by
	// poller.add before the socket is read or written by others; id is 0
	// when readLoop reads it.
	id  uint64
	raw syscall.RawConn
	// idle is when the poller's sweep closes the socket unless it sends
	// something, in Unix nanoseconds: moved by its reader and by the
	// writer of a goodbye.
	idle atomic.Int64
}

// extend gives the client d more to send something: a pong, a frame, the
// answer to a goodbye.
func (t *wsTransport) extend(d time.Duration) {
	deadline := time.Now().Add(d)
	t.idle.Store(deadline.UnixNano())
	if t.id == 0 {
		_ = t.ws.SetReadDeadline(deadline)
	}
}

func (t *wsTransport) write(f *frame) error {
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
		// Let the client answer the close before its reader gives up.
		t.extend(2 * time.Second)
	}
	return nil
}

// stop closes the socket, which takes it out of the poller's epoll set,
// and the client out of the hub.
func (t *wsTransport) stop() {
	_ = t.ws.NetConn().Close()
	t.c.hub.poller.forget(t)
	t.c.leave()
}

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
