package web

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"flashwire/notifier"
)

// sseEvent is one event of an SSE stream; an empty id sends no "id:" line,
// so the browser keeps its resume cursor.
func sseEvent(id, event string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(id)+len(event)+24)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

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
		c.stop = cancel

		hdr := w.Header()
		hdr.Set("Content-Type", "text/event-stream")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("X-Accel-Buffering", "no")
		if origin := r.Header.Get("Origin"); origin != "" {
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Add("Vary", "Origin")
		}
		w.WriteHeader(http.StatusOK)
		write := func(b []byte) error {
			_ = rc.SetWriteDeadline(time.Now().Add(writeWait))
			if _, err := w.Write(b); err != nil {
				return err
			}
			return rc.Flush()
		}
		defer func() {
			hub.remove(c)
			c.abandon()
		}()
		if err := write(fmt.Appendf(nil, "retry: %d\n\n", 2000+rand.IntN(3000))); err != nil {
			return
		}
		openCtx, openCancel := context.WithTimeout(ctx, 2*writeWait)
		err = hub.open(openCtx, c, req.lastID, func(f *frame) error { return write(f.sse) })
		openCancel()
		if err != nil {
			if !errors.Is(err, errHubClosed) && ctx.Err() == nil {
				logger(r.Context()).Warn("live stream not opened", "error", err.Error())
			}
			return
		}
		heartbeat := time.NewTicker(pingPeriod)
		defer heartbeat.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-heartbeat.C:
				// A comment line keeps proxies from closing an idle stream.
				if write([]byte(": ping\n\n")) != nil {
					return
				}
			case f := <-c.queue:
				switch f.kind {
				case frameEvent:
					if c.duplicate(f) {
						f.fanout.skip()
						continue
					}
					err := write(f.sse)
					c.written(f, err)
					if err != nil {
						return
					}
				case frameClose:
					_ = write([]byte("retry: " + strconv.Itoa(f.retryMS) + "\n\n"))
					return
				}
			}
		}
	})
}

// abandon counts what is left in the queue of a client that has left the
// hub as not delivered, so its alerts' figures are still reported. Only
// the holder of the right to write may call it.
func (c *client) abandon() {
	for {
		select {
		case f := <-c.queue:
			switch {
			case f.kind != frameEvent:
			case c.duplicate(f):
				f.fanout.skip()
			default:
				f.fanout.finish(c.transport, false, 0)
			}
		default:
			return
		}
	}
}
