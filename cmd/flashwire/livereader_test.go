package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// localDialer dials from a chosen loopback address, so that one test
// process can be several readers to nginx.
func localDialer(from string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
}

// dialWS opens a WebSocket through proxy from the address from, with the
// Origin a page served by the proxy would send. On a refused handshake it
// returns the HTTP status.
func dialWS(proxy, from, lastID string, header http.Header) (*websocket.Conn, int, error) {
	d := websocket.Dialer{NetDialContext: localDialer(from).DialContext, HandshakeTimeout: 5 * time.Second}
	if header == nil {
		header = http.Header{}
	}
	header.Set("Origin", "http://"+proxy)
	url := "ws://" + proxy + "/ws?topics=world"
	if lastID != "" {
		url += "&last_id=" + lastID
	}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	return c, http.StatusSwitchingProtocols, nil
}

// liveFrame is what a reader needs of a server frame.
type liveFrame struct {
	Type      string `json:"type"`
	Seq       string `json:"seq"`
	LastID    string `json:"last_id"`
	Recovered bool   `json:"recovered"`
}

// stream is one live connection: next returns its frames until it ends.
type stream interface {
	next() (liveFrame, error)
	close()
}

// connector opens a live connection resuming after lastID ("" for live
// events only).
type connector func(ctx context.Context, lastID string) (stream, error)

// liveReader is a reader's page: it keeps the newest seq, reconnects with
// it whenever its connection ends, and records every event it receives.
type liveReader struct {
	transport string
	done      chan struct{}

	mu sync.Mutex
	// events, count, lost and cursor are guarded by mu.
	events []string
	count  int
	lost   int
	cursor string
}

func newLiveReader(ctx context.Context, transport string, connect connector) *liveReader {
	r := &liveReader{transport: transport, done: make(chan struct{})}
	go r.run(ctx, connect)
	return r
}

func (r *liveReader) run(ctx context.Context, connect connector) {
	defer close(r.done)
	for ctx.Err() == nil {
		r.mu.Lock()
		cursor := r.cursor
		r.mu.Unlock()
		s, err := connect(ctx, cursor)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		stop := context.AfterFunc(ctx, s.close)
		for {
			f, err := s.next()
			if err != nil {
				break
			}
			r.mu.Lock()
			switch f.Type {
			case "hello":
				r.count++
				if !f.Recovered {
					r.lost++
				}
				if r.cursor == "" {
					r.cursor = f.LastID
				}
			case "alert", "update", "retract":
				r.events = append(r.events, f.Seq)
				r.cursor = f.Seq
			}
			r.mu.Unlock()
		}
		stop()
		s.close()
	}
}

func (r *liveReader) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *liveReader) connects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

func (r *liveReader) unrecovered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

func (r *liveReader) wait() { <-r.done }

// wsStream connects over WebSocket through proxy from the address from.
func wsStream(proxy, from string) connector {
	return func(ctx context.Context, lastID string) (stream, error) {
		c, _, err := dialWS(proxy, from, lastID, nil)
		if err != nil {
			return nil, err
		}
		return wsConn{c}, nil
	}
}

type wsConn struct{ c *websocket.Conn }

func (w wsConn) next() (liveFrame, error) {
	var f liveFrame
	err := w.c.ReadJSON(&f)
	return f, err
}

func (w wsConn) close() { _ = w.c.Close() }

// sseStream connects over SSE through proxy from the address from,
// resuming with Last-Event-ID as EventSource does.
func sseStream(proxy, from string) connector {
	client := &http.Client{Transport: &http.Transport{DialContext: localDialer(from).DialContext}}
	return func(ctx context.Context, lastID string) (stream, error) {
		ctx, cancel := context.WithCancel(ctx)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+proxy+"/events?topics=world", nil)
		if err != nil {
			cancel()
			return nil, err
		}
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("GET /events: %d", resp.StatusCode)
		}
		return &sseConn{body: resp.Body, cancel: cancel, sc: bufio.NewScanner(resp.Body)}, nil
	}
}

type sseConn struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	sc     *bufio.Scanner
}

// next returns the next event's data; comments, retry and id lines are
// read past (the frames carry their own seq).
func (s *sseConn) next() (liveFrame, error) {
	var data []byte
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if len(line) == 0 {
			if data == nil {
				continue
			}
			var f liveFrame
			err := json.Unmarshal(data, &f)
			return f, err
		}
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			data = append(data, d...)
		}
	}
	if err := s.sc.Err(); err != nil {
		return liveFrame{}, err
	}
	return liveFrame{}, io.EOF
}

func (s *sseConn) close() { s.cancel(); _ = s.body.Close() }
