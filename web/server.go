package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"flashwire/notifier"
	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
	"flashwire/notifier/webpush"
	"flashwire/subscribers"
)

// Config is what the web layer needs from the rest of Flashwire.
type Config struct {
	Logger      *slog.Logger
	Redis       redis.UniversalClient
	Alerts      *notifier.Service
	Subscribers *subscribers.Store
	Tokens      *Tokens
	// AllowedOrigins may open WebSockets besides the service's own origin;
	// "*" allows any.
	AllowedOrigins []string
	// PublicURL is where readers and editors reach the service.
	PublicURL string
	// Registry collects the service's metrics and is served at /metrics.
	Registry *prometheus.Registry
	// Hub delivers live alerts on GET /ws and GET /events; nil answers
	// them with 503.
	Hub *Hub
	// Stats keeps per-alert delivery figures.
	Stats *notifier.Stats
	// PartnerSecrets issues a new partner's signing secret, returned once by
	// POST /api/v1/partners; nil issues none.
	PartnerSecrets partnerSecrets
	// Watcher manages the feed sources and held stories; nil answers their
	// routes with 503.
	Watcher *watch.Watcher
	// Webhooks delivers to partners and serves their delivery log, replay,
	// test and secret routes; nil answers those routes with 503.
	Webhooks *webhook.Sender
	// Push sends Web Push and serves its key; nil answers the push routes
	// with 503.
	Push *webpush.Sender
	// TrustedProxies are the networks of the load balancers and reverse
	// proxies in front of the service: from them the client address is
	// read from X-Forwarded-For (see clientAddr). None trusts no header.
	TrustedProxies []netip.Prefix
}

// Server is Flashwire's HTTP handler.
type Server struct {
	cfg     Config
	mux     *routeTable
	metrics *httpMetrics
	// probes limits look-ups of unknown reader ids by live connections,
	// per client address (see readerFilters).
	probes *ipLimiter
	// signIns limits wrong tokens per client address (see signIn).
	signIns *ipLimiter
}

// NewServer builds the handler with every route of routes.go.
func NewServer(cfg Config) *Server {
	s := &Server{cfg: cfg, mux: &routeTable{ServeMux: http.NewServeMux()}, metrics: newHTTPMetrics(cfg.Registry),
		probes: newIPLimiter(readerBurst, readerRate), signIns: newIPLimiter(signInBurst, signInRate)}
	addRoutes(s.mux, s)
	return s
}

// ServeHTTP gives every request an id, a logger, a metric and a log line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	log := s.cfg.Logger.With(slog.String("request_id", id))
	ctx := context.WithValue(r.Context(), ctxRequestID, id)
	ctx = context.WithValue(ctx, ctxLogger, log)
	ctx = s.withClientIP(ctx, r)
	r = r.WithContext(ctx)
	rec := &recorder{ResponseWriter: w}
	s.serveAudited(rec, r)

	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if !rec.hijacked {
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	} else if route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics" {
		level = slog.LevelDebug
	}
	log.Log(ctx, level, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", elapsed),
		slog.String("remote", clientIP(r)))
}

// routeTable is the server's ServeMux. It keeps the list of its patterns,
// which tests walk so that every route is tried, and answers requests no
// route takes in JSON.
type routeTable struct {
	*http.ServeMux
	patterns []string
}

// Handle registers h for pattern, as ServeMux.Handle does.
func (t *routeTable) Handle(pattern string, h http.Handler) {
	t.patterns = append(t.patterns, pattern)
	t.ServeMux.Handle(pattern, h)
}

// ServeHTTP serves r by its route, or with serveNoRoute.
func (t *routeTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := t.Handler(r); pattern == "" {
		serveNoRoute(w, r, h)
		return
	}
	t.ServeMux.ServeHTTP(w, r)
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxLogger
	ctxToken
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// logger returns the request's logger, which carries its id.
func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// caller returns the token that authenticated the request.
func caller(ctx context.Context) Token {
	t, _ := ctx.Value(ctxToken).(Token)
	return t
}

// requireRole lets a request through to h only with a bearer token, or a
// console session cookie (see session.go), whose role allows need.
func (s *Server) requireRole(need Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := s.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		noteAuditCaller(r.Context(), tok)
		if !tok.Role.allows(need) {
			writeError(w, r, errForbidden)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxToken, tok)))
	})
}

// recorder notes the status and size of a response, and keeps its first
// peek bytes in body. It passes Flush and Hijack through, which SSE and
// WebSockets need.
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
	peek     int
	body     bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if room := r.peek - r.body.Len(); room > 0 {
		r.body.Write(b[:min(room, len(b))])
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	r.hijacked = true
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flashwire_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route (upgraded connections excluded).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}
