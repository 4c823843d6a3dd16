package web

import (
	"context"
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

// handleNotFound answers unknown paths with a JSON 404.
func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusNotFound, errorBody{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
}
