package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
)

// The floor is the least a WebSocket broadcaster can do: one reading
// goroutine per connection (to notice it close), and on each publish one
// prepared message written to every socket in turn, under a deadline. No
// filters, queues, log, Redis or metrics. flashwire-bench runs it as a
// child process of its own binary (floor-server), so that its memory is
// measured exactly as Flashwire's is: the resident memory of a process.

// floorUpgrader uses the same buffer sizes as Flashwire's, so the two
// differ in what they do, not in how gorilla is tuned.
var floorUpgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   512,
	WriteBufferSize:  512,
	WriteBufferPool:  &sync.Pool{},
	CheckOrigin:      func(*http.Request) bool { return true },
}

// floor is the minimal broadcaster's state: its open connections.
type floor struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
}

// runFloorServer serves GET /ws, POST /publish?seq=S (answers 202 at once
// and writes the frame to every socket), POST /gc (collects garbage and
// answers with the number of completed collections, so that its memory is
// read after two collections, as Flashwire's is) and GET /mem (heap and
// stacks in use, as Flashwire's /metrics gives them). It prints
// "listening URL" once it accepts connections.
func runFloorServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flashwire-bench floor-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raiseOpenFileLimit(stderr)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor server: %w", err)
	}
	f := &floor{conns: map[*websocket.Conn]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", f.handleWS)
	mux.HandleFunc("POST /publish", f.handlePublish)
	mux.HandleFunc("POST /gc", handleGC)
	mux.HandleFunc("GET /mem", handleMem)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	_ = srv.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
	}
	return nil
}

func (f *floor) handleWS(w http.ResponseWriter, r *http.Request) {
	c, err := floorUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	go func() {
		defer func() {
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
			_ = c.Close()
		}()
		c.SetReadLimit(4096)
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
}

func (f *floor) handlePublish(w http.ResponseWriter, r *http.Request) {
	seq := r.URL.Query().Get("seq")
	if seq == "" {
		http.Error(w, "seq: is required", http.StatusBadRequest)
		return
	}
	body, err := floorFrame(seq, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	f.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	go func() {
		for _, c := range conns {
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_ = c.WritePreparedMessage(pm)
		}
	}()
}

// floorFrame is an alert frame shaped like Flashwire's, with the same
// alert as benchAlert, so both write the same number of bytes.
func floorFrame(seq string, now time.Time) ([]byte, error) {
	a := benchAlert(0, now)
	a.ID = seq
	a.PublishedAt = now
	return json.Marshal(struct {
		Type  string           `json:"type"`
		Seq   string           `json:"seq"`
		Alert *flashwire.Alert `json:"alert"`
	}{"alert", seq, &a})
}

// benchAlert is the alert every mode publishes: topic world, region
// europe, flash priority, a headline and summary of typical length.
func benchAlert(i int, now time.Time) flashwire.Alert {
	return flashwire.Alert{
		Headline: fmt.Sprintf("Load test alert %d at %s", i+1, now.UTC().Format(time.TimeOnly+".000")),
		Summary:  "A summary of typical length for a breaking-news alert, sent by flashwire-bench.",
		URL:      "https://news.example.com/load-test",
		Topics:   []string{"world"},
		Regions:  []string{"europe"},
		Language: "en",
		Priority: flashwire.Flash,
	}
}

// handleGC runs a garbage collection and answers with the number of
// completed ones.
func handleGC(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		http.Error(w, "no gc cycle count", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, strconv.FormatUint(s[0].Value.Uint64(), 10))
}

// handleMem answers "HEAP STACK": the bytes of heap spans and goroutine
// stacks in use (runtime.MemStats HeapInuse and StackInuse, what
// Flashwire's go_memstats_heap_inuse_bytes and
// go_memstats_stack_inuse_bytes report).
func handleMem(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "%d %d\n", ms.HeapInuse, ms.StackInuse)
}
