package outbound

import (
	"net/http"
	"strconv"
	"time"
)

// Schedule is the wait before each retry: after the first failed attempt
// a message is tried again in about 5 s, after the second in about 30 s,
// and so on; after the last it is given up. The whole schedule spans about
// 21 hours: breaking news is stale after a day. A channel whose messages
// live shorter (a Web Push message's TTL) stops at its own deadline.
var Schedule = []time.Duration{
	5 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	6 * time.Hour,
	12 * time.Hour,
}

// Jitter is the spread around each scheduled wait (±20 %), so a server
// that was down for everyone is not hit by every retry at the same instant.
const Jitter = 0.2

// MaxRetryAfter caps a server's Retry-After: it may slow us down, not hold
// a message past the life of the news.
const MaxRetryAfter = 12 * time.Hour

// NextRetry returns the wait before the next attempt after failed attempts
// (1 for the first), or false when the schedule is spent. rnd returns a
// number in [0, 1).
func NextRetry(failed int, rnd func() float64) (time.Duration, bool) {
	if failed < 1 || failed > len(Schedule) {
		return 0, false
	}
	base := Schedule[failed-1]
	f := 1 + Jitter*(2*rnd()-1)
	return time.Duration(float64(base) * f), true
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date) of a 429
// or 503 answer, capped at MaxRetryAfter; false when absent or unreadable.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(n)*time.Second, MaxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxRetryAfter), true
	}
	return 0, false
}
