package watch

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a poll, the "outcome" label of flashwire_watch_polls_total.
const (
	pollOK          = "ok"           // fetched and parsed; its stories handled
	pollNotModified = "not_modified" // the feed answered 304
	pollFailed      = "error"        // fetch or parse failed; the source backs off
	pollStoryFailed = "story_error"  // fetched, but a story could not be handled
	pollLeased      = "leased"       // another instance polls the source
)

// Reasons a story is held, the "reason" label of flashwire_watch_held_total.
const (
	heldMode    = "hold_mode" // its source is in hold mode
	heldTooSoon = "too_soon"  // auto mode, but the minimum gap had not passed
	heldStale   = "stale"     // an editor's send never finished; back for a decision
	// heldUnpushable: it cannot be pushed as it is (no public link, an
	// invalid field); an editor may fix it.
	heldUnpushable = "unpushable"
)

// metrics are the watcher's Prometheus figures.
type metrics struct {
	polls  *prometheus.CounterVec
	items  prometheus.Counter
	alerts prometheus.Counter
	held   *prometheus.CounterVec
	// outcomes counts story outcomes by source and outcome, each decision
	// once across instances.
	outcomes *prometheus.CounterVec
}

// newMetrics registers the watcher's figures on reg (nil: kept, not
// registered). leases reports how many source leases this instance holds;
// failing how many sources are failing.
func newMetrics(reg prometheus.Registerer, leases, failing func() float64) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_watch_polls_total",
			Help: "Feed polls by outcome: ok, not_modified, error, story_error, leased.",
		}, []string{"outcome"}),
		items: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashwire_watch_items_seen_total",
			Help: "Feed items read by this instance's polls.",
		}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashwire_watch_alerts_total",
			Help: "Alerts published from feed stories, automatically or by an editor's send.",
		}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_watch_held_total",
			Help: "Stories put in the held queue, by reason: hold_mode, too_soon, stale, unpushable.",
		}, []string{"reason"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_watch_story_outcomes_total",
			Help: "What became of feed stories' versions, by source and outcome: pushed, held, skipped, updated, retracted.",
		}, []string{"source", "outcome"}),
	}
	for _, o := range []string{pollOK, pollNotModified, pollFailed, pollStoryFailed, pollLeased} {
		m.polls.WithLabelValues(o)
	}
	for _, r := range []string{heldMode, heldTooSoon, heldStale, heldUnpushable} {
		m.held.WithLabelValues(r)
	}
	if reg == nil {
		return m
	}
	m.polls = register(reg, m.polls)
	m.items = register(reg, m.items)
	m.alerts = register(reg, m.alerts)
	m.held = register(reg, m.held)
	m.outcomes = register(reg, m.outcomes)
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashwire_watch_leases_held",
		Help: "Feed sources whose polling lease this instance holds.",
	}, leases))
	register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashwire_watch_sources_failing",
		Help: "Feed sources whose last poll failed (fetch or parse) and that back off; the same on every instance.",
	}, failing))
	return m
}

// failingSources counts the sources whose last poll failed, read from
// Redis at scrape time so that every instance reports the figure, not only
// the one polling each source. NaN when Redis does not answer within a
// second: flashwire_redis_up says so.
func (w *Watcher) failingSources() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sources, err := w.store.all(ctx)
	if err != nil {
		return math.NaN()
	}
	n := 0
	for _, src := range sources {
		st, err := w.store.state(ctx, src.ID)
		if err != nil {
			return math.NaN()
		}
		if st.Failures > 0 {
			n++
		}
	}
	return float64(n)
}

// register registers c, or returns the collector already registered under
// its name so that two watchers on one registry share their figures.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			if existing, ok := dup.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
