package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// handleHealthz answers while the process is alive, whatever Redis does.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 only while Redis answers, so a load balancer
// sends no traffic to an instance that cannot publish or deliver.
func handleReadyz(rdb redis.UniversalClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			logger(r.Context()).Warn("not ready: redis does not answer", "error", err.Error())
			encode(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "redis does not answer"})
			return
		}
		encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// serveNoRoute answers a request that no route takes, as ServeMux would
// but in JSON: 405 with Allow when the path has routes for other methods,
// 404 otherwise. h is the handler ServeMux chose for it, which knows the
// methods and sets Allow.
func serveNoRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		encode(w, http.StatusMethodNotAllowed, errorBody{Error: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow)})
		return
	}
	encode(w, http.StatusNotFound, errorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// probeWriter keeps the status and headers a handler answers with and
// drops its body.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(code int)        { p.status = code }
