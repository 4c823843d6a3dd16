package web

import (
	"errors"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"flashwire"
	"flashwire/subscribers"
)

// Anonymous preference requests are limited per client address by a token
// bucket: readerBurst at once, then readerRate a second. A reader saves
// preferences a few times a year; a script creating readers by the million
// is what the limit is for. Each instance counts on its own.
const (
	readerBurst = 30
	readerRate  = 0.5
)

var errRateLimited = flashwire.NewError(flashwire.ErrTooMany, "too many requests from this address; wait and try again")

// ipLimiter is a token bucket per client address. A bucket that has filled
// up again carries no state and is dropped, so the map holds only the
// addresses active in the last burst/rate seconds.
type ipLimiter struct {
	burst, rate float64
	now         func() time.Time

	mu        sync.Mutex // guards the fields below
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newIPLimiter(burst, rate float64) *ipLimiter {
	return &ipLimiter{burst: burst, rate: rate, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token for ip, or says how long until one is there.
func (l *ipLimiter) allow(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[ip]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[ip] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// limitByIP answers 429 with Retry-After to an address over its limit.
func limitByIP(l *ipLimiter, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.allow(limitKey(clientIP(r))); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(w, r, errRateLimited)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limitKey is the bucket of an address: an IPv6 client usually holds a
// whole /64, so the /64 shares one bucket.
func limitKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, _ := addr.Prefix(64)
	return p.String()
}

// readerCORS lets the reader widget, embedded in the pages of an allowed
// origin, manage preferences from there. The reader id in the path is the
// only credential: no cookies are involved.
func (s *Server) readerCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && s.originAllowed(r) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.Header().Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// The id in the path is a capability: keep it out of caches.
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// preferencesBody is the JSON of a reader's preferences as sent. It reads
// paused_until as text so that a malformed time is named like any other
// field at fault.
type preferencesBody struct {
	Topics      []string                `json:"topics"`
	Regions     []string                `json:"regions"`
	Languages   []string                `json:"languages"`
	MinPriority flashwire.Priority      `json:"min_priority"`
	QuietHours  *subscribers.QuietHours `json:"quiet_hours"`
	PausedUntil *string                 `json:"paused_until"`
}

// decodePreferences reads and checks the preferences in r's body.
func decodePreferences(w http.ResponseWriter, r *http.Request, store *subscribers.Store) (subscribers.Preferences, error) {
	var body preferencesBody
	if err := decode(w, r, &body); err != nil {
		return subscribers.Preferences{}, err
	}
	p := subscribers.Preferences{
		Topics:      body.Topics,
		Regions:     body.Regions,
		Languages:   body.Languages,
		MinPriority: body.MinPriority,
		QuietHours:  body.QuietHours,
	}
	var pausedBad bool
	if body.PausedUntil != nil && *body.PausedUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, *body.PausedUntil)
		if err != nil {
			pausedBad = true
		} else {
			p.PausedUntil = &t
		}
	}
	err := store.CheckPreferences(r.Context(), &p)
	var bad *flashwire.InvalidError
	switch {
	case err != nil && !errors.As(err, &bad):
		return p, err
	case pausedBad:
		if bad == nil {
			bad = &flashwire.InvalidError{}
		}
		bad.Add("paused_until", "must be an RFC 3339 time such as 2026-11-27T08:00:00Z")
		return p, bad
	}
	return p, err
}

// handleReaderCreate issues a new reader id for the preferences in the body.
func handleReaderCreate(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := decodePreferences(w, r, store)
		if err != nil {
			writeError(w, r, err)
			return
		}
		reader, _, err := store.PutReader(r.Context(), subscribers.NewReaderID(), p)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/api/v1/readers/"+reader.ID+"/preferences")
		encode(w, http.StatusCreated, reader)
	})
}

// handleReaderGet returns a reader's preferences; asking counts as being
// seen.
func handleReaderGet(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := store.TouchReader(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		reader, err := store.Reader(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, reader)
	})
}

// handleReaderPut creates (201) or replaces (200) a reader's preferences
// under an id the browser chose.
func handleReaderPut(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := subscribers.ParseReaderID(r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		p, err := decodePreferences(w, r, store)
		if err != nil {
			writeError(w, r, err)
			return
		}
		reader, created, err := store.PutReader(r.Context(), id, p)
		if err != nil {
			writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		encode(w, status, reader)
	})
}

func handleReaderDelete(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := store.DeleteReader(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
