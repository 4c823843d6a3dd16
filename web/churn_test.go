package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
)

// count returns how many clients the hub delivers to.
func (h *Hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Churn: churnRate connections open and close each second for churnFor,
// while alerts flow at churnAlerts a second: 6,000 connections in all.
const (
	churnRate   = 200
	churnFor    = 30 * time.Second
	churnAlerts = 20
)

// openFiles lists this process's open file descriptors, each with the
// addresses of a TCP socket, leaving out sockets connected to the port
// skip: the Redis client's pool, which grows with the connections'
// look-ups and keeps idle connections by design.
func openFiles(tb testing.TB, skip int) []string {
	tb.Helper()
	sockets := map[string]string{} // inode -> "local remote"
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		raw, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 {
				sockets[f[9]] = f[1] + " " + f[2]
			}
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skipf("cannot list open files: %v", err)
	}
	skipSuffix := fmt.Sprintf(":%04X", skip)
	var out []string
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			addrs := sockets[strings.TrimSuffix(inode, "]")]
			if strings.HasSuffix(addrs, skipSuffix) {
				continue
			}
			target += " " + addrs
		}
		out = append(out, fd.Name()+"="+target)
	}
	return out
}

// churnClient is one short-lived reader: what it was told at hello, and
// every alert it received, in order.
type churnClient struct {
	lastAtHello string
	got         []string
	err         error
}

// TestChurn opens and closes churnRate WebSockets a second for churnFor
// while alerts are published: every client receives, in order and once,
// every alert published after its hello up to the last one it read (no
// gap, however the others come and go), and once it is over the server's
// goroutines and the process's open files are back to what they were.
func TestChurn(t *testing.T) {
	srv, rdb := redistest.Start(t)
	// As flashwire serve's: a handshake waits its turn behind 200 others.
	env := newEnv(t, envOptions{rdb: rdb, stats: true, hub: true, readTimeout: 30 * time.Second,
		configure: func(_ *testEnv, h *HubConfig, _ *Config) { h.MaxConnectionsPerIP = 5000 }})
	// Warm up whatever is made once (pools, the first connection's
	// buffers), then take the baseline.
	dial(t, env.wsURL(""), nil).Close()
	_, redisPort, _ := net.SplitHostPort(srv.Addr)
	port, _ := strconv.Atoi(redisPort)
	settle := func() (int, []string) {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		return runtime.NumGoroutine(), openFiles(t, port)
	}
	eventually(t, "the warm-up connection to go", func() bool { return env.hub.count() == 0 })
	baseGoroutines, baseFiles := settle()

	var (
		pubMu     sync.Mutex
		published []string // alert ids, in log order
	)
	ctx, stop := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(time.Second / churnAlerts)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			a, _, err := env.alerts.Publish(ctx, flashwire.Alert{Headline: fmt.Sprint("Churn alert ", i), URL: "https://news.example/churn",
				Topics: []string{"world"}}, notifier.PublishOptions{Force: true, SkipGap: true})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("publish: %v", err)
				}
				return
			}
			pubMu.Lock()
			published = append(published, a.ID)
			pubMu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	var clientsMu sync.Mutex
	var clients []*churnClient
	// A tenth of a second's connections every tenth of a second, each
	// living from 0.2 to 2 s.
	open := time.NewTicker(100 * time.Millisecond)
	for range churnFor / (100 * time.Millisecond) {
		<-open.C
		for range churnRate / 10 {
			c := &churnClient{}
			clientsMu.Lock()
			clients = append(clients, c)
			clientsMu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.run(env.wsURL("topics=world"), 200*time.Millisecond+rand.N(1800*time.Millisecond))
			}()
		}
	}
	open.Stop()
	wg.Wait()
	stop()
	<-pubDone

	pubMu.Lock()
	defer pubMu.Unlock()
	received := 0
	for i, c := range clients {
		if c.err != nil {
			t.Errorf("client %d: %v", i, c.err)
			continue
		}
		received += len(c.got)
		if len(c.got) == 0 {
			continue
		}
		// What the log held after the client's hello, up to the last
		// alert it read, is exactly what it got.
		from := 0
		if c.lastAtHello != "" {
			from = slices.Index(published, c.lastAtHello) + 1
		}
		to := slices.Index(published, c.got[len(c.got)-1])
		if to < from || !slices.Equal(c.got, published[from:to+1]) {
			t.Errorf("client %d got %v, want %v", i, c.got, published[from:max(to+1, from)])
		}
	}
	t.Logf("%d connections over %v, %d alerts published, %d received", len(clients), churnFor, len(published), received)

	eventually(t, "the hub to let every client go", func() bool { return env.hub.count() == 0 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		goroutines, files := settle()
		if goroutines <= baseGoroutines && len(files) <= len(baseFiles) {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("after the churn: %d goroutines (baseline %d), %d open files (baseline %d):\n%s\nbaseline:\n%s\n%s",
				goroutines, baseGoroutines, len(files), len(baseFiles), strings.Join(files, "\n"), strings.Join(baseFiles, "\n"), buf[:runtime.Stack(buf, true)])
		}
	}
}

// run connects, reads hello and then alerts for lifetime, and closes.
func (c *churnClient) run(url string, lifetime time.Duration) {
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		c.err = fmt.Errorf("dial: %w", err)
		return
	}
	defer ws.Close()
	until := time.Now().Add(lifetime)
	_ = ws.SetReadDeadline(until)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return // the lifetime is over
		}
		var f struct {
			Type   string `json:"type"`
			LastID string `json:"last_id"`
			Seq    string `json:"seq"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			c.err = fmt.Errorf("frame %q: %w", data, err)
			return
		}
		switch f.Type {
		case "hello":
			c.lastAtHello = f.LastID
		case "alert":
			c.got = append(c.got, f.Seq)
		}
	}
}
