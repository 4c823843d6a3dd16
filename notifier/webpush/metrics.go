package webpush

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Web Push sender's Prometheus metrics.
type metrics struct {
	sends    *prometheus.CounterVec
	duration prometheus.Histogram
	latency  prometheus.Histogram
	jobs     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_webpush_sends_total",
			Help: "Web Push messages by outcome (reached, removed, failed, retry, expired, interrupted) and push service host.",
		}, []string{"outcome", "host"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webpush_send_duration_seconds",
			Help:    "Time from encrypting a push to the push service's answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webpush_delivery_latency_seconds",
			Help:    "Time from an alert event to the push service accepting its message, retries included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600},
		}),
		jobs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_webpush_jobs",
			Help: "Web Push jobs (one per alert event and reader shard) waiting, running or waiting for retries.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sends, m.duration, m.latency, m.jobs} {
			if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
				panic(err)
			}
		}
	}
	return m
}
