package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// upgrader keeps each connection small: 512-byte read buffers, and write
// buffers borrowed from a pool only while a message is written (shared
// prepared messages need none). Origins are checked before Upgrade, so a
// refusal goes through writeError like every other.
var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   512,
	WriteBufferSize:  512,
	WriteBufferPool:  &sync.Pool{},
	CheckOrigin:      func(*http.Request) bool { return true },
}

// maxFilterValues bounds each filter list of a live connection.
const maxFilterValues = 50

// liveRequest is what a WebSocket or SSE request asked for.
type liveRequest struct {
	prefs subscribers.Preferences
	// lastID resumes after that log event id; empty starts with live
	// events only.
	lastID string
	// ip is the address the connection counts against in the hub's
	// per-address limit.
	ip string
}

// admitLive checks a GET /ws or GET /events request (a hub running, an
// allowed origin, valid filters) and reserves its place in the hub's
// connection limits. On success the caller owns the reservation and must
// release it with hub.release(transport, req.ip).
func (s *Server) admitLive(r *http.Request, transport notifier.Channel, lastEventID string) (*Hub, liveRequest, error) {
	hub := s.cfg.Hub
	if hub == nil {
		return nil, liveRequest{}, errHubClosed
	}
	if !s.originAllowed(r) {
		return nil, liveRequest{}, errCrossOrigin
	}
	req, err := s.parseLive(r, lastEventID)
	if err != nil {
		return nil, liveRequest{}, err
	}
	req.ip = clientIP(r)
	if err := hub.reserve(transport, req.ip); err != nil {
		return nil, liveRequest{}, err
	}
	return hub, req, nil
}

// parseLive reads the filters and resume point shared by GET /ws and GET
// /events. lastEventID (SSE's Last-Event-ID header) wins over last_id.
func (s *Server) parseLive(r *http.Request, lastEventID string) (liveRequest, error) {
	q := r.URL.Query()
	var req liveRequest
	var bad flashwire.InvalidError
	if id := q.Get("reader"); id != "" {
		prefs, err := s.readerPreferences(r.Context(), id)
		if err != nil {
			return liveRequest{}, fmt.Errorf("live connection for reader %s: %w", id, err)
		}
		req.prefs = prefs
		// A reader with a page open is active: keep the record alive.
		if err := s.cfg.Subscribers.TouchReader(r.Context(), id); err != nil {
			logger(r.Context()).Warn("cannot touch reader", "reader", id, "error", err.Error())
		}
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"topics", &req.prefs.Topics}, {"regions", &req.prefs.Regions}, {"lang", &req.prefs.Languages}} {
		if !q.Has(f.name) {
			continue
		}
		list := splitComma(q.Get(f.name))
		if len(list) > maxFilterValues {
			bad.Add(f.name, "has more than %d values", maxFilterValues)
		}
		*f.dst = list
	}
	if q.Has("min_priority") {
		req.prefs.MinPriority = flashwire.Priority(q.Get("min_priority"))
	}
	if p := req.prefs.MinPriority; p != "" && p.Rank() == 0 {
		bad.Add("min_priority", "must be flash, urgent or normal, not %q", p)
	}
	field, last := "Last-Event-ID", lastEventID
	if last == "" {
		field, last = "last_id", q.Get("last_id")
	}
	if last != "" && !flashwire.ValidEventID(last) {
		bad.Add(field, "must be an alert id such as 1732650000000-0")
	}
	req.lastID = last
	return req, bad.Err()
}

// readerPreferences loads the stored preferences of reader id.
func (s *Server) readerPreferences(ctx context.Context, id string) (subscribers.Preferences, error) {
	if s.cfg.Hub.Readers != nil {
		return s.cfg.Hub.Readers(ctx, id)
	}
	rd, err := s.cfg.Subscribers.Reader(ctx, id)
	return rd.Preferences, err
}

// splitComma reads a comma-separated query parameter as a normalised list.
func splitComma(v string) []string {
	return flashwire.NormalizeSlugs(strings.Split(v, ","))
}

// originAllowed refuses cross-site WebSocket hijacking: a browser page may
// open a live connection only from the service's own origin (its Host or
// PublicURL) or one of AllowedOrigins ("*" allows any). Requests without
// Origin come from no browser and carry no reader's cookies.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil && pu.Host != "" && o == strings.ToLower(pu.Scheme+"://"+pu.Host) {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(a, o) {
			return true
		}
	}
	return false
}

// hello is the first frame of every live connection. Its last_id is the
// newest log event at connect.
type hello struct {
	Type       string    `json:"type"`
	ServerTime time.Time `json:"server_time"`
	Recovered  bool      `json:"recovered"`
	LastID     string    `json:"last_id"`
}

// open adds c to the hub, then sends through send the hello and every
// event after lastID that c wants, in order. Because c already receives
// live events into its queue while the log is read, nothing published in
// between is lost; c.skipUpTo then drops the live copies of what was
// replayed, so nothing arrives twice.
func (h *Hub) open(ctx context.Context, c *client, lastID string, send func(*frame) error) error {
	if err := h.add(c); err != nil {
		return err
	}
	newest, err := h.log.LastID(ctx)
	if err != nil {
		return err
	}
	recovered := true
	var page []flashwire.Event
	if lastID != "" {
		page, recovered, err = h.log.Since(ctx, lastID, replayPage)
		if err != nil {
			return err
		}
		h.metrics.resumes.WithLabelValues(strconv.FormatBool(recovered)).Inc()
	}
	body, _ := json.Marshal(hello{Type: "hello", ServerTime: h.now().UTC(), Recovered: recovered, LastID: newest})
	helloID := newest
	if lastID != "" {
		// A resuming EventSource keeps its own cursor until the replay
		// moves it: the hello must not skip what is replayed.
		helloID = ""
	}
	if err := send(&frame{kind: frameText, data: body, json: body, sse: sseEvent(helloID, "hello", body)}); err != nil {
		return err
	}
	skip := newest
	if lastID != "" && flashwire.CompareEventIDs(lastID, skip) > 0 {
		skip = lastID
	}
	var seen targeting
	for len(page) > 0 {
		now := h.now()
		for _, ev := range page {
			if flashwire.CompareEventIDs(ev.ID, skip) > 0 {
				skip = ev.ID
			}
			f, err := newEventFrame(ev)
			if err != nil {
				continue
			}
			seen.note(f)
			if !c.wantsFrame(f, now) {
				continue
			}
			if err := send(f); err != nil {
				return err
			}
			h.metrics.written.WithLabelValues(string(c.transport)).Inc()
		}
		if len(page) < replayPage {
			break
		}
		if page, _, err = h.log.Since(ctx, page[len(page)-1].ID, replayPage); err != nil {
			return err
		}
	}
	c.skipUpTo = skip
	return nil
}

// handleWebSocket serves GET /ws. The handler sends the hello and the
// replay itself, then hands writing to the hub's pool and reading to
// readPump, and returns, so no HTTP goroutine or buffer stays per
// connection.
func handleWebSocket(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub, req, err := s.admitLive(r, notifier.WebSocket, "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		ip := req.ip
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			hub.release(notifier.WebSocket, ip)
			return // Upgrade has answered.
		}
		c := hub.newClient(notifier.WebSocket, ip, req.prefs)
		c.ws = ws
		c.stop = func() { _ = ws.NetConn().Close() }
		ctx, cancel := context.WithTimeout(r.Context(), 2*writeWait)
		defer cancel()
		err = hub.open(ctx, c, req.lastID, func(f *frame) error {
			_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
			return ws.WriteMessage(websocket.TextMessage, f.json)
		})
		if err != nil {
			if !errors.Is(err, errHubClosed) {
				logger(r.Context()).Warn("live connection not opened", "error", err.Error())
			}
			hub.remove(c)
			c.close()
			c.abandon()
			hub.release(notifier.WebSocket, ip)
			return
		}
		c.handOver()
		go c.readPump()
	})
}

// readPump owns reads of one WebSocket: the read limit, the read deadline
// that pongs extend, and the client's subscribe and ping frames. It is the
// connection's only goroutine; writes are the pool's (see Hub). When the
// connection ends, for any reason, it removes the client from the hub.
func (c *client) readPump() {
	defer func() {
		c.hub.remove(c)
		c.close()
		c.hub.release(c.transport, c.ip)
	}()
	c.ws.SetReadLimit(maxMessageSize)
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
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

// writeFrame writes f to the WebSocket with a deadline; the caller holds
// the right to write (client.writing). A failed write ends the connection.
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
	deadline := time.Now().Add(writeWait)
	var err error
	switch f.kind {
	case frameEvent:
		_ = c.ws.SetWriteDeadline(deadline)
		err = c.ws.WritePreparedMessage(f.pm)
		c.written(f, err)
	case frameText:
		_ = c.ws.SetWriteDeadline(deadline)
		err = c.ws.WriteMessage(websocket.TextMessage, f.data)
	case framePing:
		err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
	case frameClose:
		// Let the client answer the close before readPump gives up.
		err = c.ws.WriteControl(websocket.CloseMessage, f.data, deadline)
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	}
	if err != nil {
		c.close()
	}
}
