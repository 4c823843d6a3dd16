package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

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
	// replayPage is how many log events a resume reads per round trip.
	replayPage = 500
)

// Defaults of HubConfig.
const (
	DefaultMaxConnections      = 20000
	DefaultMaxConnectionsPerIP = 256
	defaultSendQueue           = 32
	defaultWriters             = 64
)

var (
	errHubFull       = errors.New("this instance has as many live connections as it allows; retry later")
	errTooManyFromIP = errors.New("too many live connections from this address")
	errCrossOrigin   = errors.New("this origin may not open live connections; see FLASHWIRE_ALLOWED_ORIGINS")
	errHubClosed     = errors.New("live alerts are not available on this instance")
)

// HubConfig is what a Hub needs.
type HubConfig struct {
	Log *notifier.Log
	// Stats receives one report per alert per channel per fan-out; nil
	// records nothing.
	Stats *notifier.Stats
	// Registry gets the hub's metrics; nil registers nothing.
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// MaxConnections and MaxConnectionsPerIP bound live connections
	// (WebSocket and SSE together); zero means the default.
	MaxConnections      int
	MaxConnectionsPerIP int
	// SendQueue is each connection's queue of frames not yet written;
	// a client whose queue is full is dropped. Zero means 32.
	SendQueue int
	// Writers is the size of the pool that writes to WebSockets. Zero
	// means 64.
	Writers int
	// Now is the clock for matching (quiet hours); nil means time.Now.
	Now func() time.Time
	// Online, when set, makes CountOnline count every instance's
	// connections (see online.go); nil counts this instance's only.
	Online *OnlineConfig
}

// Hub fans the alert log out to this instance's WebSocket and SSE
// connections. Every instance runs one hub tailing the shared log, so any
// instance delivers every alert with no sticky sessions.
//
// Writing: unlike the readPump/writePump pair of gorilla's chat example, a
// WebSocket has only its reading goroutine (readPump) and is written by a
// shared pool of writers, one at a time (see client.writing), so there is
// still one reader and one writer per connection. At 15,000 connections
// this holds 6.6 to 8 KiB of Go memory per connection against 10.8 KiB for
// a writing goroutine per connection as well: what lets one instance hold
// 15,000 readers within 10 KiB each (see BENCHMARKS.md).
type Hub struct {
	log     *notifier.Log
	stats   *notifier.Stats
	logger  *slog.Logger
	metrics *hubMetrics
	now     func() time.Time

	maxConns, maxPerIP, sendQueue, writers int

	// ready holds WebSockets with frames to write and no writer. A client
	// is in it at most once, so twice maxConns (room for clients that
	// left but wait for a writer to notice) does not block.
	ready chan *client
	ping  *frame
	// targeting is owned by the log tail's goroutine (broadcast).
	targeting targeting
	// tailing is closed once Run reads the log: events appended after
	// that are delivered.
	tailing     chan struct{}
	tailingOnce sync.Once
	// online counts readers online across instances; nil without
	// HubConfig.Online.
	online *online

	// Readers, when set, loads a reader's stored preferences for
	// "reader=ID" instead of Config.Subscribers.
	Readers func(ctx context.Context, id string) (subscribers.Preferences, error)

	mu       sync.RWMutex
	clients  map[*client]struct{} // guarded by mu
	perIP    map[string]int       // guarded by mu; reserved slots per address
	reserved int                  // guarded by mu
	closing  bool                 // guarded by mu
}

// NewHub returns a hub; Run starts it.
func NewHub(cfg HubConfig) *Hub {
	h := &Hub{
		log:       cfg.Log,
		stats:     cfg.Stats,
		logger:    cfg.Logger,
		metrics:   newHubMetrics(cfg.Registry),
		now:       cfg.Now,
		maxConns:  orDefault(cfg.MaxConnections, DefaultMaxConnections),
		maxPerIP:  orDefault(cfg.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP),
		sendQueue: orDefault(cfg.SendQueue, defaultSendQueue),
		writers:   orDefault(cfg.Writers, defaultWriters),
		clients:   map[*client]struct{}{},
		perIP:     map[string]int{},
		ping:      &frame{kind: framePing},
		tailing:   make(chan struct{}),
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.ready = make(chan *client, 2*h.maxConns)
	h.metrics.limit.Set(float64(h.maxConns))
	if cfg.Online != nil {
		h.online = newOnline(h, *cfg.Online)
	}
	return h
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Run starts the writers and the pinger and tails the alert log from its
// newest event, fanning out each event, until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	for range h.writers {
		go h.writeLoop(ctx)
	}
	go h.pingLoop(ctx)
	if h.online != nil {
		go h.online.run(ctx)
	}
	pause := 100 * time.Millisecond
	for {
		after, err := h.log.LastID(ctx)
		if err == nil {
			h.tailingOnce.Do(func() { close(h.tailing) })
			err = h.log.Tail(ctx, after, h.broadcast)
		}
		if ctx.Err() != nil {
			return nil
		}
		h.logger.Warn("hub cannot tail the alert log; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func (h *Hub) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.ready:
			c.drain()
		}
	}
}

// pingLoop queues one shared ping frame to every WebSocket each
// pingPeriod, instead of a timer per connection.
func (h *Hub) pingLoop(ctx context.Context) {
	t := time.NewTicker(pingPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var slow []*client
		h.mu.RLock()
		for c := range h.clients {
			if c.ws != nil && !c.enqueue(h.ping) {
				slow = append(slow, c)
			}
		}
		h.mu.RUnlock()
		h.dropSlow(slow)
	}
}

// Online returns how many connections on this instance would receive an
// alert with attributes a now.
func (h *Hub) Online(a subscribers.Attrs) int {
	now := h.now()
	n := 0
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if c.wants(a, now) {
			n++
		}
	}
	return n
}

// broadcast is the log tail's callback: it fans out each event in order.
func (h *Hub) broadcast(events []notifier.Event) {
	for _, ev := range events {
		f, err := newEventFrame(ev)
		if err != nil {
			h.logger.Error("cannot encode alert for live delivery", "seq", ev.ID, "error", err.Error())
			continue
		}
		h.targeting.note(f)
		h.fanOut(f)
	}
}

// targeting remembers the targeting of recent alerts, so a correction
// that changes it still reaches those who got the alert.
type targeting struct {
	byID  map[string][]subscribers.Attrs // distinct targetings, oldest first
	order []string                       // oldest first; at most keepTargeting
}

// keepTargeting is how many alerts targeting remembers: as many as the
// alert log keeps at least.
const keepTargeting = notifier.KeepCount

// note sets f.before from the alert's earlier events and remembers f's
// targeting. Only one goroutine may use a targeting.
func (t *targeting) note(f *frame) {
	if t.byID == nil {
		t.byID = map[string][]subscribers.Attrs{}
	}
	known, ok := t.byID[f.alertID]
	if !ok {
		if len(t.order) >= keepTargeting {
			delete(t.byID, t.order[0])
			t.order = t.order[1:]
		}
		t.order = append(t.order, f.alertID)
	}
	current := false
	for _, a := range known {
		if sameAttrs(a, f.attrs) {
			current = true
		} else {
			f.before = append(f.before, a)
		}
	}
	if !current {
		t.byID[f.alertID] = append(known, f.attrs)
	}
}

func sameAttrs(a, b subscribers.Attrs) bool {
	return a.Language == b.Language && a.Priority == b.Priority &&
		slices.Equal(a.Topics, b.Topics) && slices.Equal(a.Regions, b.Regions)
}

// fanOut queues f, encoded once, to every connection that wants it. It
// never waits for a client: a full queue drops that client.
func (h *Hub) fanOut(f *frame) {
	fo := &fanout{hub: h, alertID: f.alertID}
	fo.pending.Store(1)
	f.fanout = fo
	now := h.now()
	var slow []*client
	h.mu.RLock()
	for c := range h.clients {
		if !c.wantsFrame(f, now) {
			continue
		}
		fo.pending.Add(1)
		if !c.enqueue(f) {
			fo.finish(c.transport, false, 0)
			slow = append(slow, c)
		}
	}
	h.mu.RUnlock()
	h.dropSlow(slow)
	fo.release()
}

func (h *Hub) dropSlow(slow []*client) {
	for _, c := range slow {
		h.metrics.slow.WithLabelValues(string(c.transport)).Inc()
		c.close()
	}
}

// reserve takes a connection slot for ip before the connection is set up,
// so limits are answered with an HTTP status.
func (h *Hub) reserve(transport notifier.Channel, ip string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing:
		return errHubClosed
	case h.reserved >= h.maxConns:
		h.metrics.refused.WithLabelValues("max_connections").Inc()
		return errHubFull
	case h.perIP[ip] >= h.maxPerIP:
		h.metrics.refused.WithLabelValues("max_per_ip").Inc()
		return errTooManyFromIP
	}
	h.reserved++
	h.perIP[ip]++
	h.metrics.connections.WithLabelValues(string(transport)).Inc()
	return nil
}

// release gives back a slot taken by reserve.
func (h *Hub) release(transport notifier.Channel, ip string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reserved--
	if h.perIP[ip]--; h.perIP[ip] <= 0 {
		delete(h.perIP, ip)
	}
	h.metrics.connections.WithLabelValues(string(transport)).Dec()
}

// add starts live delivery to c. It refuses once shutdown began.
func (h *Hub) add(c *client) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return errHubClosed
	}
	h.clients[c] = struct{}{}
	return nil
}

func (h *Hub) remove(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// Shutdown closes every connection with a jittered reconnect hint:
// WebSockets get close code 1012 (service restart) with reason
// {"retry_ms":N}, SSE streams a "retry: N" line. http.Server.Shutdown does
// not close hijacked connections, so the server calls this from
// RegisterOnShutdown. It returns once all are gone or ctx ends, closing the
// rest at once. With HubConfig.Online it first leaves the count of readers
// online, while Redis is still open.
func (h *Hub) Shutdown(ctx context.Context) {
	if h.online != nil {
		// A closing instance has no readers to count: dry runs stop
		// expecting its answer.
		h.online.leave(ctx)
	}
	h.mu.Lock()
	h.closing = true
	all := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		retry := 1000 + rand.IntN(9000)
		f := &frame{kind: frameClose, retryMS: retry}
		if c.ws != nil {
			f.data = websocket.FormatCloseMessage(websocket.CloseServiceRestart, fmt.Sprintf(`{"retry_ms":%d}`, retry))
		}
		if !c.enqueue(f) {
			c.close()
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		h.mu.RLock()
		n := len(h.clients)
		h.mu.RUnlock()
		if n == 0 {
			return
		}
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
		}
		h.mu.RLock()
		for c := range h.clients {
			c.close()
		}
		h.mu.RUnlock()
		return
	}
}

type frameKind uint8

const (
	frameEvent frameKind = iota // an alert, update or retraction
	frameText                   // a reply to one client (pong, subscribed, error)
	framePing                   // a WebSocket ping
	frameClose                  // the shutdown goodbye
)

// frame is one thing to write to a client. An event frame is built once per
// event and shared, read-only, by every connection that receives it.
type frame struct {
	kind    frameKind
	seq     string // log event id of an event frame
	alertID string
	attrs   subscribers.Attrs
	// before holds the alert's earlier targetings that differ from attrs,
	// when an update changed it: readers who got the alert under an old
	// targeting get its corrections and retraction too.
	before []subscribers.Attrs
	// appended is when the event entered the log, read from its id.
	appended time.Time
	json     []byte
	pm       *websocket.PreparedMessage // event frames: the WebSocket bytes
	sse      []byte                     // event frames: the SSE bytes
	data     []byte                     // frameText payload; frameClose WebSocket payload
	retryMS  int                        // frameClose
	fanout   *fanout                    // nil for replayed and control frames
}

// wireAlert is an alert as readers' browsers see it.
type wireAlert struct {
	ID          string    `json:"id"`
	Headline    string    `json:"headline"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url"`
	ImageURL    string    `json:"image_url"`
	Topics      []string  `json:"topics"`
	Regions     []string  `json:"regions"`
	Language    string    `json:"language"`
	Priority    string    `json:"priority"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// eventMessage is the alert, update and retract frames of the protocol.
type eventMessage struct {
	Type  string     `json:"type"`
	Seq   string     `json:"seq"`
	Alert *wireAlert `json:"alert,omitempty"`
	ID    string     `json:"id,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// newEventFrame encodes ev once for both transports.
func newEventFrame(ev notifier.Event) (*frame, error) {
	msg := eventMessage{Seq: ev.ID}
	a := ev.Alert
	switch ev.Type {
	case notifier.Published:
		msg.Type = "alert"
	case notifier.Updated:
		msg.Type = "update"
	case notifier.Retracted:
		msg.Type, msg.ID = "retract", a.ID
	default:
		return nil, fmt.Errorf("event %s has unknown type %q", ev.ID, ev.Type)
	}
	if msg.Type != "retract" {
		msg.Alert = &wireAlert{
			ID: a.ID, Headline: a.Headline, Summary: a.Summary, URL: a.URL, ImageURL: a.ImageURL,
			Topics: nonNil(a.Topics), Regions: nonNil(a.Regions), Language: a.Language,
			Priority: string(a.Priority), PublishedAt: a.PublishedAt, UpdatedAt: a.UpdatedAt,
		}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
	if err != nil {
		return nil, fmt.Errorf("prepare event %s: %w", ev.ID, err)
	}
	return &frame{
		kind:     frameEvent,
		seq:      ev.ID,
		alertID:  a.ID,
		attrs:    a.Attrs(),
		appended: idTime(ev.ID),
		json:     body,
		pm:       pm,
		sse:      sseEvent(ev.ID, msg.Type, body),
	}, nil
}

// idTime reads the append time from a log id ("MS-SEQ").
func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// fanout gathers one event's delivery figures on this instance until every
// queued write has finished, then reports them once per channel.
type fanout struct {
	hub     *Hub
	alertID string
	// pending counts queued writes plus one held by fanOut itself.
	pending atomic.Int64
	mu      sync.Mutex
	tallies map[notifier.Channel]*notifier.Tally // guarded by mu
}

// finish notes one write of the event to a client of transport.
func (fo *fanout) finish(transport notifier.Channel, ok bool, latency time.Duration) {
	if fo == nil {
		return
	}
	fo.mu.Lock()
	if fo.tallies == nil {
		fo.tallies = map[notifier.Channel]*notifier.Tally{}
	}
	t := fo.tallies[transport]
	if t == nil {
		t = &notifier.Tally{}
		fo.tallies[transport] = t
	}
	if ok {
		t.Reached++
		t.Latencies = append(t.Latencies, latency)
	} else {
		t.Failed++
	}
	fo.mu.Unlock()
	fo.release()
}

// skip drops a queued write that turned out to be a duplicate.
func (fo *fanout) skip() {
	if fo != nil {
		fo.release()
	}
}

func (fo *fanout) release() {
	if fo.pending.Add(-1) != 0 || fo.hub.stats == nil || fo.alertID == "" {
		return
	}
	fo.mu.Lock()
	tallies := fo.tallies
	fo.mu.Unlock()
	if len(tallies) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for ch, t := range tallies {
			if err := fo.hub.stats.Record(ctx, fo.alertID, ch, *t); err != nil {
				fo.hub.logger.Warn("cannot record live delivery figures", "alert_id", fo.alertID, "error", err.Error())
			}
		}
	}()
}

// client is one live connection, WebSocket or SSE.
type client struct {
	hub       *Hub
	transport notifier.Channel
	ip        string
	// ws is the WebSocket; nil for SSE, whose handler goroutine drains
	// queue itself. Set before the client is added to the hub.
	ws    *websocket.Conn
	queue chan *frame
	// writing is the right to write to ws: true while one goroutine holds
	// it (the handler while it replays, then a pool writer draining the
	// queue). Whoever turns it from false to true hands the client to the
	// pool, so there is never more than one writer.
	writing atomic.Bool
	// skipUpTo drops queued events already replayed (or older than the
	// connection). Set by the handler before it gives up writing; read by
	// whoever holds writing.
	skipUpTo string
	prefs    atomic.Pointer[subscribers.Preferences]
	closed   atomic.Bool
	// stop ends the connection: closes the socket, or ends the SSE handler.
	stop func()
}

func (h *Hub) newClient(transport notifier.Channel, ip string, prefs subscribers.Preferences) *client {
	c := &client{hub: h, transport: transport, ip: ip, queue: make(chan *frame, h.sendQueue)}
	c.prefs.Store(&prefs)
	c.writing.Store(true)
	return c
}

func (c *client) wants(a subscribers.Attrs, now time.Time) bool {
	return c.prefs.Load().Matches(a, now)
}

func (c *client) wantsFrame(f *frame, now time.Time) bool {
	if c.wants(f.attrs, now) {
		return true
	}
	for _, a := range f.before {
		if c.wants(a, now) {
			return true
		}
	}
	return false
}

// enqueue queues f without waiting; false means the queue is full.
func (c *client) enqueue(f *frame) bool {
	select {
	case c.queue <- f:
	default:
		return false
	}
	if c.ws != nil && c.writing.CompareAndSwap(false, true) {
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
	if c.closed.CompareAndSwap(false, true) && c.stop != nil {
		c.stop()
	}
}

// duplicate reports whether event frame f was already sent or predates the
// connection.
func (c *client) duplicate(f *frame) bool {
	return c.skipUpTo != "" && notifier.CompareIDs(f.seq, c.skipUpTo) <= 0
}

// written notes an event frame's delivery in the metrics and its fan-out.
func (c *client) written(f *frame, err error) {
	if err != nil {
		f.fanout.finish(c.transport, false, 0)
		return
	}
	latency := c.hub.now().Sub(f.appended)
	m := c.hub.metrics.per[c.transport]
	m.written.Inc()
	m.latency.Observe(latency.Seconds())
	f.fanout.finish(c.transport, true, latency)
}

type hubMetrics struct {
	connections *prometheus.GaugeVec
	written     *prometheus.CounterVec
	slow        *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	resumes     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	limit       prometheus.Gauge
	// per holds each transport's hot-path metrics, looked up once.
	per map[notifier.Channel]transportMetrics
}

type transportMetrics struct {
	written prometheus.Counter
	latency prometheus.Observer
}

func newHubMetrics(reg prometheus.Registerer) *hubMetrics {
	m := &hubMetrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flashwire_live_connections",
			Help: "Open live connections by transport (websocket, sse).",
		}, []string{"transport"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_live_alerts_written_total",
			Help: "Alert, update and retract frames written to live connections, by transport.",
		}, []string{"transport"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_live_slow_disconnects_total",
			Help: "Live connections dropped because their send queue was full, by transport.",
		}, []string{"transport"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashwire_live_publish_to_write_seconds",
			Help:    "Time from an event's append to the alert log to its write to a live connection.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"transport"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_live_resumes_total",
			Help: "Connections that asked to resume after a last id, by whether nothing was lost (recovered).",
		}, []string{"recovered"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_live_refused_total",
			Help: "Live connections refused by a limit, by reason.",
		}, []string{"reason"}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_live_connections_limit",
			Help: "Most live connections this instance holds (FLASHWIRE_MAX_CONNECTIONS); more get 503.",
		}),
	}
	m.per = map[notifier.Channel]transportMetrics{}
	for _, t := range []notifier.Channel{notifier.WebSocket, notifier.SSE} {
		m.per[t] = transportMetrics{written: m.written.WithLabelValues(string(t)), latency: m.latency.WithLabelValues(string(t))}
		// Zero from the start rather than absent until the first event, so
		// rates and alerting rules see every series.
		m.connections.WithLabelValues(string(t))
		m.slow.WithLabelValues(string(t))
	}
	for _, reason := range []string{"max_connections", "max_per_ip"} {
		m.refused.WithLabelValues(reason)
	}
	for _, recovered := range []string{"true", "false"} {
		m.resumes.WithLabelValues(recovered)
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.written, m.slow, m.latency, m.resumes, m.refused, m.limit)
	}
	return m
}
