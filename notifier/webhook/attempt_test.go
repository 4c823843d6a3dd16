package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"flashwire/internal/redistest"
	"flashwire/notifier/outbound"
)

// metricValue returns the value of the counter or gauge, or the sample
// count of the histogram, called name with the given labels; -1 when the
// registry has no such series.
func metricValue(tb testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func TestMetricsMove(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	ok := newReceiver(t, nil)
	bad := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	dir := newDirectory(
		Target{ID: "pt_ok", URL: ok.URL, State: "active"},
		Target{ID: "pt_bad", URL: bad.URL, State: "active"})
	reg := prometheus.NewRegistry()
	// A stopped clock, on a whole millisecond as the queue keeps times: the
	// failed delivery's retry never comes due.
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	sender := newTestSender(rdb, dir, Options{Registry: reg})
	sender.Now = clk.Now
	sender.secrets.Now = clk.Now
	_, _ = sender.secrets.Create(ctx, "pt_ok")
	_, _ = sender.secrets.Create(ctx, "pt_bad")
	// Queued a minute ago, before the sender starts: its first look at the
	// queue sees all three waiting.
	enqueue(t, sender.queue, "pt_ok", 2, clk.Now().Add(-time.Minute))
	enqueue(t, sender.queue, "pt_bad", 1, clk.Now().Add(-time.Minute))
	if v := metricValue(t, reg, "flashwire_webhook_attempts_total", "outcome", "delivered"); v > 0 {
		t.Fatalf("%v deliveries counted before any attempt", v)
	}
	startSender(t, sender)

	waitFor(t, "the attempts to be counted", func() bool {
		return metricValue(t, reg, "flashwire_webhook_attempts_total", "outcome", "delivered") == 2 &&
			metricValue(t, reg, "flashwire_webhook_attempts_total", "outcome", "retry") == 1
	})
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"flashwire_webhook_attempts_total", []string{"outcome", "failed"}, -1},       // nothing given up
		{"flashwire_webhook_attempt_duration_seconds", nil, 3},                        // every answer timed
		{"flashwire_webhook_delivery_latency_seconds", nil, 2},                        // only successes
		{"flashwire_webhook_queue_lag_seconds", nil, time.Minute.Seconds()},           // the first look: a minute late
		{"flashwire_webhook_partners_disabled_total", []string{"reason", "gone"}, -1}, // nobody disabled
		{"flashwire_webhook_queue_depth", nil, 3},                                     // the first look: three waiting
	}
	for _, tt := range tests {
		if got := metricValue(t, reg, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// The queue is looked at every 5 s: then only the retry waits.
	waitFor(t, "the queue depth to fall", func() bool {
		return metricValue(t, reg, "flashwire_webhook_queue_depth") == 1
	})
}

func TestResponseKeptIsTheFirstKiB(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	tests := []struct {
		partner string
		body    string
	}{
		{"pt_ascii", strings.Repeat("0123456789", 500)},  // 5,000 bytes: the first 1,024 kept
		{"pt_euro", strings.Repeat("€", 1000)},           // 3-byte runes: one is cut at byte 1,024
		{"pt_short", "thanks"},                           // under the limit: all of it
		{"pt_exact", strings.Repeat("é", MaxResponse/2)}, // exactly the limit
	}
	bodies := map[string]string{}
	dir := newDirectory()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(bodies[strings.TrimPrefix(r.URL.Path, "/")]))
	})
	for _, tt := range tests {
		bodies[tt.partner] = tt.body
		dir.targets[tt.partner] = Target{ID: tt.partner, URL: rc.URL + "/" + tt.partner, State: "active"}
	}
	sender := newTestSender(rdb, dir, Options{})
	for _, tt := range tests {
		_, _ = sender.secrets.Create(ctx, tt.partner)
		enqueue(t, sender.queue, tt.partner, 1, time.Now())
	}
	startSender(t, sender)
	for _, tt := range tests {
		t.Run(tt.partner, func(t *testing.T) {
			waitFor(t, "the attempt record", func() bool {
				_, n, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
				return n == 1
			})
			as, _, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
			got := as[0].Response
			want := tt.body
			if len(want) > MaxResponse {
				// The longest whole-rune start of the body within the limit.
				want = want[:MaxResponse]
				for !utf8.ValidString(want) {
					want = want[:len(want)-1]
				}
			}
			if got != want {
				t.Errorf("kept %d bytes %q..., want %d bytes %q...", len(got), head(got), len(want), head(want))
			}
			if len(got) > MaxResponse || !utf8.ValidString(got) {
				t.Errorf("kept %d bytes (valid UTF-8: %v); at most %d of valid UTF-8 allowed", len(got), utf8.ValidString(got), MaxResponse)
			}
		})
	}
}

func head(s string) string { return s[:min(len(s), 12)] }

// TestRetryAfterStatuses checks that a 503 with Retry-After is honoured like a 429,
// in seconds or as an HTTP date, and that other statuses keep the schedule.
func TestRetryAfterStatuses(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	// Whole seconds, so an HTTP date names the same instant.
	clk := &clock{t: time.Now().Truncate(time.Second)}
	tests := []struct {
		partner    string
		status     int
		retryAfter string
		want       time.Duration
	}{
		{"pt_503_seconds", 503, "120", 2 * time.Minute},                                                       // seconds
		{"pt_503_date", 503, clk.Now().Add(15 * time.Minute).UTC().Format(http.TimeFormat), 15 * time.Minute}, // an HTTP date
		{"pt_429_date", 429, clk.Now().Add(7 * time.Minute).UTC().Format(http.TimeFormat), 7 * time.Minute},   // the same for 429
		{"pt_503_capped", 503, "100000", 12 * time.Hour},                                                      // no longer than the life of the news
		{"pt_503_none", 503, "", outbound.Schedule[0]},                                                        // absent: the schedule
		{"pt_503_garbage", 503, "soon", outbound.Schedule[0]},                                                 // unreadable: the schedule
		{"pt_500", 500, "600", outbound.Schedule[0]},                                                          // only 429 and 503 are honoured
	}
	byPath := map[string]int{}
	dir := newDirectory()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if v := r.URL.Query().Get("ra"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(byPath[p])
	})
	for _, tt := range tests {
		byPath[tt.partner] = tt.status
		q := ""
		if tt.retryAfter != "" {
			q = "?ra=" + url.QueryEscape(tt.retryAfter)
		}
		dir.targets[tt.partner] = Target{ID: tt.partner, URL: rc.URL + "/" + tt.partner + q, State: "active"}
	}
	sender := newTestSender(rdb, dir, Options{})
	sender.Now = clk.Now
	sender.secrets.Now = clk.Now
	// No jitter: the schedule's own 5 s.
	sender.Rand = func() float64 { return 0.5 }
	for _, tt := range tests {
		_, _ = sender.secrets.Create(ctx, tt.partner)
		enqueue(t, sender.queue, tt.partner, 1, clk.Now())
	}
	startSender(t, sender)
	for _, tt := range tests {
		t.Run(tt.partner, func(t *testing.T) {
			waitFor(t, "the attempt record", func() bool {
				_, n, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
				return n == 1
			})
			as, _, _ := sender.queue.Attempts(ctx, tt.partner, 0, 1)
			a := as[0]
			if a.Status != tt.status || a.Outcome != "retry" || a.NextAttempt == nil {
				t.Fatalf("attempt %+v, want a retry after %d", a, tt.status)
			}
			if got := a.NextAttempt.Sub(clk.Now()); got != tt.want {
				t.Errorf("next attempt in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOutcomes(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == http.StatusFound {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(code)
	})
	tests := []struct {
		status  int
		outcome string
		errText string
	}{
		{200, "delivered", ""},                          // plain success
		{204, "delivered", ""},                          // any 2xx
		{302, "retry", "redirects are not followed"},    // 3xx fails, not followed
		{400, "retry", "HTTP 400"},                      // 4xx fails
		{500, "retry", "HTTP 500"},                      // 5xx fails
		{429, "retry", "HTTP 429"},                      // without Retry-After: the schedule
		{410, "disabled", "endpoint answered 410 Gone"}, // the partner is disabled
	}
	dir := newDirectory()
	for _, tt := range tests {
		id := fmt.Sprintf("pt_%d", tt.status)
		dir.targets[id] = Target{ID: id, URL: fmt.Sprintf("%s/%d", rc.URL, tt.status), State: "active"}
	}
	sender := newTestSender(rdb, dir, Options{})
	for id := range dir.targets {
		_, _ = sender.secrets.Create(ctx, id)
		enqueue(t, sender.queue, id, 1, time.Now())
	}
	startSender(t, sender)
	for _, tt := range tests {
		id := fmt.Sprintf("pt_%d", tt.status)
		waitFor(t, "the attempt of "+id, func() bool {
			_, n, _ := sender.queue.Attempts(ctx, id, 0, 1)
			return n == 1
		})
		as, _, _ := sender.queue.Attempts(ctx, id, 0, 1)
		if a := as[0]; a.Status != tt.status || a.Outcome != tt.outcome || !strings.Contains(a.Error, tt.errText) {
			t.Errorf("%d: attempt %+v, want outcome %s and error %q", tt.status, a, tt.outcome, tt.errText)
		}
	}
	if r := dir.reason("pt_410"); !strings.Contains(r, "410") {
		t.Errorf("reason of the 410 partner %q", r)
	}
	if r := dir.reason("pt_500"); r != "" {
		t.Errorf("a single 500 disabled its partner: %s", r)
	}
}
