package webpush

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"

	"flashwire/notifier/outbound"
)

// hosts is one instance's view of the push services: how many requests
// each has in flight (at most perHost, so a slow service holds no more
// workers than that) and how long it asked to be left alone (a 429 or a
// 5xx, honouring Retry-After; otherwise the shared retry schedule, one
// step further at each failure in a row).
type hosts struct {
	perHost int
	rand    func() float64

	mu sync.Mutex
	// m and labels are guarded by mu.
	m      map[string]*host
	labels map[string]bool
}

type host struct {
	slots    chan struct{}
	failures int
	until    time.Time
}

// maxHostLabels bounds the metric label values beyond the known push
// services: past it, other hosts share the label "other".
const maxHostLabels = 16

// knownServices are the push services of the major browsers, by host or
// host suffix: their names are metric labels of their own.
var knownServices = []string{
	"fcm.googleapis.com", "android.googleapis.com", "updates.push.services.mozilla.com",
	"push.services.mozilla.com", ".notify.windows.com", ".push.apple.com",
}

func newHosts(perHost int, rand func() float64) *hosts {
	return &hosts{perHost: perHost, rand: rand, m: map[string]*host{}, labels: map[string]bool{}}
}

// hostOf returns the host of an endpoint, lower case.
func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

func (h *hosts) get(name string) *host {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[name]
	if s == nil {
		s = &host{slots: make(chan struct{}, h.perHost)}
		h.m[name] = s
	}
	return s
}

// acquire waits for one of the host's request slots.
func (h *hosts) acquire(ctx context.Context, name string) error {
	select {
	case h.get(name).slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hosts) release(name string) { <-h.get(name).slots }

// blocked reports until when the host asked to be left alone.
func (h *hosts) blocked(name string, now time.Time) (time.Time, bool) {
	s := h.get(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.until, now.Before(s.until)
}

// fail notes a 429, a 5xx or no answer and returns when to try the host
// again: after retryAfter when the host said (ok), else after the next
// step of the retry schedule.
func (h *hosts) fail(name string, now time.Time, retryAfter time.Duration, ok bool) time.Time {
	s := h.get(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	s.failures++
	wait := retryAfter
	if !ok {
		var more bool
		if wait, more = outbound.NextRetry(s.failures, h.rand); !more {
			wait, _ = outbound.NextRetry(len(outbound.Schedule), h.rand)
		}
	}
	if until := now.Add(wait); until.After(s.until) {
		s.until = until
	}
	return s.until
}

// ok notes an answer that says the host is well.
func (h *hosts) ok(name string) {
	s := h.get(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	s.failures = 0
	s.until = time.Time{}
}

// label is the host's metric label: known push services by name, the
// first few others by name too, the rest "other", so the label's values
// stay few whatever endpoints readers bring.
func (h *hosts) label(name string) string {
	for _, k := range knownServices {
		if name == k {
			return name
		}
		if strings.HasPrefix(k, ".") && strings.HasSuffix(name, k) {
			return k[1:]
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.labels[name] {
		return name
	}
	if len(h.labels) < maxHostLabels {
		h.labels[name] = true
		return name
	}
	return "other"
}
