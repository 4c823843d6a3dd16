package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"flashwire/notifier"
)

// upgrader keeps each connection small: gorilla reads through a
// readBufferSize buffer of ours (see ownBuffer; ReadBufferSize zero is
// what makes it use the hijacked reader it is given), and borrows a write
// buffer from a pool only while a message is written (shared prepared
// messages need none). Origins are checked before Upgrade, so a refusal
// goes through writeError like every other.
var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	WriteBufferSize:  512,
	WriteBufferPool:  &sync.Pool{},
	CheckOrigin:      func(*http.Request) bool { return true },
}

// liveSendBuffer is each WebSocket's kernel send buffer. Alerts are small,
// and a reader that stops reading fills it, then its queue, and is dropped
// (see Hub): what a stalled reader costs the server is bounded by the two.
// Left to the kernel's autotuning, a stalled socket could hold megabytes
// each, and be dropped only after them.
const liveSendBuffer = 64 << 10

// handleWebSocket serves GET /ws. The handler sends the hello and the
// replay itself, then hands reading to the hub's poller (or a goroutine,
// see client.readLoop) and writing to the hub's pool of writers, and
// returns, so no HTTP goroutine or buffer stays per connection.
func handleWebSocket(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub, req, err := s.admitLive(r, notifier.WebSocket, "")
		if err != nil {
			writeError(w, r, err)
			return
		}
		ip := req.ip
		own := &ownBuffer{ResponseWriter: w}
		ws, err := upgrader.Upgrade(own, r, nil)
		if err != nil {
			hub.release(notifier.WebSocket, ip)
			return // Upgrade has answered.
		}
		if tc, ok := ws.NetConn().(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(liveSendBuffer)
		}
		c := hub.newClient(notifier.WebSocket, ip, req.prefs)
		t := &wsTransport{c: c, ws: ws, br: own.br}
		c.conn = t
		ws.SetReadLimit(maxMessageSize)
		ws.SetPongHandler(func(string) error {
			t.extend(pongWait)
			return nil
		})
		ctx, cancel := context.WithTimeout(r.Context(), 2*writeWait)
		defer cancel()
		err = hub.open(ctx, c, req.lastID)
		if err != nil {
			if !errors.Is(err, errHubClosed) {
				logger(r.Context()).Warn("live connection not opened", "error", err.Error())
			}
			c.close()
			c.abandon()
			return
		}
		// Reading starts before the pool may write, so that t.id is set
		// before any writer reads it.
		t.extend(pongWait)
		if !hub.poller.add(t) {
			go c.readLoop(t)
		}
		c.handOver()
	})
}
