package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"flashwire"
	"flashwire/notifier"
)

// replayPage is how many log events a resume reads per round trip.
const replayPage = 500

// Defaults of HubConfig.
const (
	DefaultMaxConnections      = 20000
	DefaultMaxConnectionsPerIP = 256
	defaultSendQueue           = 32
	defaultWriters             = 64
)

// The refusals of a live connection. A retry within the waits given is
// likely to be refused again: a connection slot frees up when a reader
// leaves, and a shutdown's close frame carries its own reconnect hint.
var (
	errHubFull       = &flashwire.Error{Kind: flashwire.ErrUnavailable, Message: "this instance has as many live connections as it allows; retry later", Retry: 5 * time.Second}
	errTooManyFromIP = &flashwire.Error{Kind: flashwire.ErrTooMany, Message: "too many live connections from this address", Retry: 10 * time.Second}
	errCrossOrigin   = flashwire.NewError(flashwire.ErrForbidden, "this origin may not open live connections; see FLASHWIRE_ALLOWED_ORIGINS")
	errHubClosed     = &flashwire.Error{Kind: flashwire.ErrUnavailable, Message: "live alerts are not available on this instance", Retry: 5 * time.Second}
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
	// Taxonomy, when set, checks the topics and regions of a WebSocket
	// subscribe frame as the query of /ws is checked; nil takes any slug.
	Taxonomy slugSource
}

// slugSource holds the newsroom's known topics and regions.
type slugSource interface {
	KnownSlugs(ctx context.Context) (topics, regions map[string]bool, err error)
}

// Hub fans the alert log out to this instance's WebSocket and SSE
// connections. Every instance runs one hub tailing the shared log, so any
// instance delivers every alert with no sticky sessions.
//
// Unlike the readPump/writePump pair of gorilla's chat example, an idle
// WebSocket has no goroutine: it is written by a shared pool of writers,
// one at a time (see client.writing), and read by the poller's readers
// when bytes arrive (see poller), one at a time, so there is still one
// reader and one writer per connection. Goroutines per connection cost a
// stack each, 4 KiB for a parked reader: see BENCHMARKS.md for what each
// connection holds.
type Hub struct {
	log      *notifier.Log
	stats    *notifier.Stats
	logger   *slog.Logger
	metrics  *hubMetrics
	now      func() time.Time
	taxonomy slugSource // nil: subscribe frames take any slug

	maxConns, maxPerIP, sendQueue, writers int

	// ready holds WebSockets with frames to write and no writer. A client
	// is in it at most once, so twice maxConns (room for clients that
	// left but wait for a writer to notice) does not block.
	ready chan *client
	ping  *frame
	// tailing is closed once Run reads the log: events appended after
	// that are delivered.
	tailing     chan struct{}
	tailingOnce sync.Once
	// online counts readers online across instances; nil without
	// HubConfig.Online.
	online *online
	// poller reads idle WebSockets; nil where there is no epoll.
	poller *poller

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
		taxonomy:  cfg.Taxonomy,
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
	h.poller = newPoller(h.logger)
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
	go h.poller.run(ctx)
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

// pingLoop queues one shared ping frame to every connection each
// pingPeriod, instead of a timer per connection: a WebSocket ping, or an
// SSE comment line that keeps proxies from closing an idle stream.
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
			if !c.enqueue(h.ping) {
				slow = append(slow, c)
			}
		}
		h.mu.RUnlock()
		h.dropSlow(slow)
	}
}

// Online returns how many connections on this instance would receive an
// alert with attributes a now.
func (h *Hub) Online(a flashwire.Attrs) int {
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
func (h *Hub) broadcast(events []flashwire.Event) {
	for _, ev := range events {
		f, err := newEventFrame(ev)
		if err != nil {
			h.logger.Error("cannot encode alert for live delivery", "seq", ev.ID, "error", err.Error())
			continue
		}
		h.fanOut(f)
	}
}

// fanOut queues f, encoded once, to every connection that wants it. It
// never waits for a client: a full queue drops that client.
func (h *Hub) fanOut(f *frame) {
	fo := &fanout{hub: h, alertID: f.alertID}
	fo.pending.Store(1)
	f.share(fo)
	now := h.now()
	var slow []*client
	h.mu.RLock()
	for c := range h.clients {
		g := f.choose(c, now)
		if g == nil {
			continue
		}
		fo.pending.Add(1)
		if !c.enqueue(g) {
			g.finished(c, false, 0)
			slow = append(slow, c)
		}
	}
	h.mu.RUnlock()
	h.dropSlow(slow)
	fo.release()
}

func (h *Hub) dropSlow(slow []*client) {
	for _, c := range slow {
		h.metrics.slow.WithLabelValues(string(c.channel)).Inc()
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
		f := &frame{kind: frameClose, retryMS: 1000 + rand.IntN(9000)}
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
		all = all[:0]
		for c := range h.clients {
			all = append(all, c)
		}
		h.mu.RUnlock()
		// Outside the lock: closing a WebSocket removes it.
		for _, c := range all {
			c.close()
		}
		return
	}
}

// hello is the first frame of every live connection. Its last_id is the
// newest log event at connect.
type hello struct {
	Type       string    `json:"type"`
	ServerTime time.Time `json:"server_time"`
	Recovered  bool      `json:"recovered"`
	LastID     string    `json:"last_id"`
}

// open adds c to the hub, then writes the hello and every event after
// lastID that c wants, in order, holding the right to write. Because c
// already receives live events into its queue while the log is read,
// nothing published in between is lost; c.skipUpTo then drops the live
// copies of what was replayed, so nothing arrives twice.
func (h *Hub) open(ctx context.Context, c *client, lastID string) error {
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
	if err := c.conn.write(&frame{kind: frameText, data: body, sse: sseEvent(helloID, "hello", body)}); err != nil {
		return err
	}
	skip := newest
	if lastID != "" && flashwire.CompareEventIDs(lastID, skip) > 0 {
		skip = lastID
	}
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
			g := f.choose(c, now)
			if g == nil {
				continue
			}
			if err := c.conn.write(g); err != nil {
				return err
			}
			h.metrics.written.WithLabelValues(string(c.channel)).Inc()
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
