package web

import (
	"github.com/prometheus/client_golang/prometheus"

	"flashwire/notifier"
)

// hubMetrics are the hub's Prometheus metrics: connections, frames written,
// slow clients dropped and the rest, per transport.
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
