package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
)

// Target is what delivery needs to know of a partner.
type Target struct {
	ID  string
	URL string
	// State is active, paused or disabled; only active partners are sent to.
	State string
	// Event is the event type this partner gets for the event matched,
	// when it differs from the event's own (see StoreDirectory.Match).
	Event flashwire.EventType
}

// Directory is the partner directory as delivery sees it.
type Directory interface {
	// Match returns the active partners that want the event.
	Match(ctx context.Context, ev flashwire.Event, now time.Time) ([]Target, error)
	// Targets returns the partners with the given ids that still exist.
	Targets(ctx context.Context, ids []string) (map[string]Target, error)
	// Disable marks the partner disabled with a reason shown to admins.
	Disable(ctx context.Context, id, reason string) error
}

// disabledCounter is a Directory that can count its disabled partners for
// the gauge; StoreDirectory is one.
type disabledCounter interface {
	Disabled(ctx context.Context) (int, error)
}

// Options tune a Sender; zero fields take the defaults.
type Options struct {
	// Outbound is the guarded client's setting: the hosts and networks
	// exempt from the address check and the https rule. Its Timeout and
	// Redirects are the sender's own: Timeout below, and no redirect
	// followed (a 3xx is a failed attempt).
	Outbound outbound.Config
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Workers bounds attempts in flight on this instance (default 256:
	// enough for 1,000 partners answering in 200 ms within a second).
	Workers int
	// PerPartner bounds one partner's attempts in flight on this instance
	// (default 4), so a partner that hangs holds at most that many workers.
	PerPartner int
	// Lease is how long a claimed delivery is this instance's before
	// another may take it over (default 60 s; longer than Timeout).
	Lease time.Duration
	// Poll is the pause between looks at the queue when it is idle
	// (default 100 ms); a local enqueue wakes the sender at once.
	Poll time.Duration
	// DisableAfter disables a partner whose every attempt failed for this
	// long (default 24 h).
	DisableAfter time.Duration
	// Version goes into the User-Agent, "Flashwire/VERSION" (default
	// "dev"); the command that builds the sender knows the build's version.
	Version string
	Logger  *slog.Logger
	// Registry receives the delivery metrics when not nil.
	Registry prometheus.Registerer
	// Stats receives per-alert figures when not nil.
	Stats *notifier.Stats
}

// Sender delivers queued deliveries: it claims due ones, posts them and
// records the outcome. Any number of instances may run one on the same
// queue.
type Sender struct {
	queue    *Queue
	secrets  *Secrets
	partners Directory
	client   *http.Client
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	breaker  *breaker
	wake     chan struct{}
	tally    *notifier.Tallies
	// Now is the clock for schedules and signatures; tests replace it.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter; tests replace it.
	Rand func() float64
}

// Defaults of Options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultWorkers    = 256
	DefaultPerPartner = 4
)

// NewSender returns a sender over the queue in rdb.
func NewSender(rdb redis.UniversalClient, partners Directory, secrets *Secrets, opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerPartner <= 0 {
		opts.PerPartner = DefaultPerPartner
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Lease <= 0 {
		opts.Lease = 60 * time.Second
	}
	if minLease := opts.Timeout + time.Second; opts.Lease < minLease {
		// cmd refuses such a setting; a caller that gives one anyway is
		// told, never silently overruled.
		opts.Logger.Warn("webhook lease raised to the timeout plus 1s", "lease", opts.Lease.String(), "raised_to", minLease.String())
		opts.Lease = minLease
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.DisableAfter <= 0 {
		opts.DisableAfter = 24 * time.Hour
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	return &Sender{
		queue:    NewQueue(rdb),
		secrets:  secrets,
		partners: partners,
		client:   newClient(opts),
		opts:     opts,
		log:      opts.Logger,
		metrics:  newMetrics(opts.Registry),
		breaker:  newBreaker(5, 30*time.Second, opts.PerPartner),
		wake:     make(chan struct{}, 1),
		tally:    opts.Stats.Tallies(notifier.Webhook),
		Now:      time.Now,
		Rand:     rand.Float64,
	}
}

// Wake makes the sender look at the queue now rather than after its poll
// pause: the dispatcher calls it after enqueueing.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// attempt makes one try of d, marked in flight at claimed, and returns its
// outcome to record. The circuit breaker hears how the try went before its
// outcome is recorded: a recorded retry may come due at once (a
// Retry-After of 0, another instance's clock), and a claim of it must never
// meet a breaker that has not heard of the last try. The breaker is given
// the time the try ended on the sender's clock, not whenever this goroutine
// gets to it, so its cooldown runs from the failure.
func (s *Sender) attempt(ctx context.Context, j send, claimed time.Time) result {
	now := s.Now()
	o := s.try(ctx, j, claimed, now)
	s.breaker.release(j.d.PartnerID, o.healthy, now.Add(o.took))
	return o.result
}

// outcome is what one try of a delivery came to.
type outcome struct {
	// healthy is false for failures that say the endpoint is unhealthy,
	// for its circuit breaker.
	healthy bool
	// took is how long the request took.
	took time.Duration
	result
}

// try makes one try of j.d, already counted in its Attempts and marked in
// flight at claimed, at now.
func (s *Sender) try(ctx context.Context, j send, claimed, now time.Time) outcome {
	d := j.d
	a := &Attempt{DeliveryID: d.ID, Type: d.Type, Attempt: d.Attempts, At: claimed}
	status, header, body, latency, err := s.post(ctx, j)
	a.Status, a.Response, a.LatencyMS = status, body, float64(latency.Microseconds())/1000
	s.metrics.attemptTime.Observe(latency.Seconds())
	if err != nil {
		a.Error = err.Error()
	}
	o := outcome{healthy: true, took: latency, result: result{d: d, a: a, now: now}}
	switch {
	case errors.Is(err, outbound.ErrRefusedAddress), errors.Is(err, outbound.ErrInsecureURL), errors.Is(err, outbound.ErrCredentials):
		// The partner's URL, or what its name resolves to, is not one
		// Flashwire may call: trying for a day would only repeat that. The
		// delivery fails now and the partner is disabled with the reason,
		// so the admin sees it and its other deliveries wait, to be
		// replayed once the URL is fixed.
		a.Outcome = "failed"
		a.Error = refusal(err) + "; not retried"
		reason := fmt.Sprintf("%s at %s", refusal(err), now.UTC().Format(time.RFC3339))
		s.disable(ctx, d.PartnerID, reason, "refused")
		o.state = StateFailed
		return o
	case err == nil && status >= 200 && status < 300:
		a.Outcome = "delivered"
		o.state, o.health = StateDelivered, "ok"
		return o
	case err == nil && status == http.StatusGone:
		a.Outcome = "disabled"
		a.Error = "endpoint answered 410 Gone: partner disabled"
		reason := fmt.Sprintf("endpoint answered 410 Gone at %s", now.UTC().Format(time.RFC3339))
		s.disable(ctx, d.PartnerID, reason, "gone")
		// No health: disabling ended the partner's run of failures, and
		// marking a new one would count from now once it is re-enabled.
		o.healthy, o.state = false, StateParked
		return o
	}
	o.healthy = false
	if err == nil && a.Error == "" {
		a.Error = "HTTP " + strconv.Itoa(status)
		if status >= 300 && status < 400 {
			a.Error += ": redirects are not followed"
		}
	}
	wait, more := outbound.NextRetry(d.Tries(), s.Rand)
	if ra, ok := outbound.RetryAfter(header, now); ok && more && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		wait = ra
	}
	o.health = "fail"
	if !more {
		a.Outcome = "failed"
		o.state = StateFailed
		return o
	}
	next := now.Add(wait)
	a.Outcome, a.NextAttempt = "retry", &next
	o.state, o.next = StatePending, next
	return o
}

// CheckEndpoint returns what is wrong with raw as a partner's URL that
// can be known before any delivery: plain http to a host not allowed it,
// or an IP address given literally that the dialer would refuse. Names
// are judged when dialled.
func (s *Sender) CheckEndpoint(raw string) error {
	if err := s.opts.Outbound.Allow.CheckURL(raw); err != nil {
		return err
	}
	return s.opts.Outbound.Allow.CheckHTTPS(raw)
}

// post sends one signed request and reads the start of the answer. The
// client's timeout bounds it.
func (s *Sender) post(ctx context.Context, j send) (status int, header http.Header, body string, latency time.Duration, err error) {
	t, d := j.t, j.d
	if j.urlErr != nil {
		return 0, nil, "", 0, j.urlErr
	}
	secrets, err := s.secrets.Signing(ctx, t.ID)
	if err != nil {
		return 0, nil, "", 0, err
	}
	ts := s.Now()
	sig, err := Sign(d.ID, ts, d.Body, secrets...)
	if err != nil {
		return 0, nil, "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, nil, "", 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Flashwire/"+s.opts.Version)
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, "", time.Since(start), err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	// Drain a little more so the connection can be reused; a partner that
	// sends megabytes gets its connection closed instead.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, clip(head), time.Since(start), nil
}

// clip turns the start of a partner's answer into valid UTF-8 of at most
// MaxResponse bytes: a rune cut in half by the read limit, or any invalid
// byte, becomes U+FFFD, which is three bytes, so the text is cut again at
// a rune boundary to stay within the limit the delivery log promises.
func clip(b []byte) string {
	s := string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
	if len(s) <= MaxResponse {
		return s
	}
	n := MaxResponse
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Sender) disable(ctx context.Context, partnerID, reason, why string) {
	if err := s.partners.Disable(ctx, partnerID, reason); err != nil {
		s.log.Error("disable partner", "partner", partnerID, "reason", reason, "error", err.Error())
		return
	}
	// The day of failures starts anew once an admin re-enables the
	// partner; otherwise its first failure after that would disable it
	// again at once.
	if err := s.queue.forgetFailures(ctx, partnerID); err != nil {
		s.log.Warn("reset partner failures", "partner", partnerID, "error", err.Error())
	}
	s.metrics.disabled.WithLabelValues(why).Inc()
	s.log.Warn("partner disabled", "partner", partnerID, "reason", reason)
}

// sample updates the queue gauges.
func (s *Sender) sample(ctx context.Context) {
	depth, lag, err := s.queue.Depth(ctx, s.Now())
	if err != nil {
		return
	}
	s.metrics.depth.Set(float64(depth))
	s.metrics.lag.Set(lag.Seconds())
	if c, ok := s.partners.(disabledCounter); ok {
		if n, err := c.Disabled(ctx); err == nil {
			s.metrics.disabledNow.Set(float64(n))
		}
	}
}

// message is the JSON body of every webhook.
type message struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

type metrics struct {
	attempts    *prometheus.CounterVec
	attemptTime prometheus.Histogram
	latency     prometheus.Histogram
	depth       prometheus.Gauge
	lag         prometheus.Gauge
	disabled    *prometheus.CounterVec
	disabledNow prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered, retry, failed, disabled, interrupted.",
		}, []string{"outcome"}),
		attemptTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webhook_attempt_duration_seconds",
			Help:    "Time from sending a webhook request to its answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webhook_delivery_latency_seconds",
			Help:    "Time from an alert event to its successful delivery to a partner, retries included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 43200, 86400},
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_webhook_queue_depth",
			Help: "Webhook deliveries waiting for an attempt or in flight.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_webhook_queue_lag_seconds",
			Help: "How long the oldest due webhook delivery has been waiting.",
		}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_webhook_partners_disabled_total",
			Help: "Partners disabled by delivery, by reason: gone (410), failing (a day of failures) or refused (an address or URL not allowed).",
		}, []string{"reason"}),
		disabledNow: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_webhook_partners_disabled",
			Help: "Partners disabled now, by delivery or by an admin.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.attempts, m.attemptTime, m.latency, m.depth, m.lag, m.disabled, m.disabledNow} {
			if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
				panic(err)
			}
		}
	}
	return m
}
