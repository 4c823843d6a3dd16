package web

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"flashwire/notifier"
)

// handleEvents serves GET /events, the SSE fallback for networks that
// block WebSockets: the same filters, frames and resume as GET /ws, with
// Last-Event-ID (sent by EventSource on reconnect) winning over last_id.
// Its handler goroutine is the connection's one writer.
func handleEvents(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub, req, err := s.admitLive(r, notifier.SSE, r.Header.Get("Last-Event-ID"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		ip := req.ip
		defer hub.release(notifier.SSE, ip)

		// The stream outlives any server-wide write timeout; each write
		// gets its own deadline instead.
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		c := hub.newClient(notifier.SSE, ip, req.prefs)
		conn := sseTransport{w: w, rc: rc, cancel: cancel}
		c.conn = conn

		hdr := w.Header()
		hdr.Set("Content-Type", "text/event-stream")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Accel-Buffering", "no")
		if origin := r.Header.Get("Origin"); origin != "" {
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Add("Vary", "Origin")
		}
		w.WriteHeader(http.StatusOK)
		defer func() {
			hub.remove(c)
			c.abandon()
		}()
		if err := conn.writeRaw(fmt.Appendf(nil, "retry: %d\n\n", 2000+rand.IntN(3000))); err != nil {
			return
		}
		openCtx, openCancel := context.WithTimeout(ctx, 2*writeWait)
		err = hub.open(openCtx, c, req.lastID)
		openCancel()
		if err != nil {
			if !errors.Is(err, errHubClosed) && ctx.Err() == nil {
				logger(r.Context()).Warn("live stream not opened", "error", err.Error())
			}
			return
		}
		// The hub's pinger queues a ping every pingPeriod, which this
		// stream writes as a comment line; its goodbye ends ctx.
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-c.queue:
				c.writeFrame(f)
			}
		}
	})
}
