// The load test: many WebSocket readers on a running instance, alerts
// published through its API, latency to every reader and server memory.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
)

// options are the command's flags.
type options struct {
	base        *url.URL
	token       string
	conns       int
	alerts      int
	interval    time.Duration
	sources     int
	dialWorkers int
	query       string
	wait        time.Duration
	settle      time.Duration
	ping        bool
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("flashwire-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "base URL of the Flashwire instance")
	token := fs.String("token", getenv("FLASHWIRE_BENCH_TOKEN"), "editor or admin token for POST /api/v1/alerts (env FLASHWIRE_BENCH_TOKEN)")
	conns := fs.Int("conns", 1000, "WebSocket connections to open")
	alerts := fs.Int("alerts", 10, "alerts to publish")
	interval := fs.Duration("interval", time.Second, "pause between alerts")
	sources := fs.Int("sources", 250, "loopback source addresses to spread connections over (127.0.0.1..N); 0 lets the kernel choose")
	dialWorkers := fs.Int("dial-workers", 64, "connections opened at once")
	query := fs.String("query", "", "query string for /ws, such as topics=world")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for an alert to reach every connection")
	ping := fs.Bool("ping", false, `send {"type":"ping"} on each connection once it is open, as the reader widget does when idle`)
	settle := fs.Duration("settle", 5*time.Minute, "how long to wait for two server garbage collections before measuring its memory (an idle Go program collects every 2 minutes)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if problem := flashwire.CheckWebURL(*rawURL); problem != "" {
		return options{}, fmt.Errorf("-url: %q %s", *rawURL, problem)
	}
	u, _ := url.Parse(*rawURL) // CheckWebURL parsed it
	switch {
	case *token == "":
		return options{}, errors.New("-token: an editor or admin token is required to publish")
	case *conns < 1 || *alerts < 1:
		return options{}, errors.New("-conns and -alerts must be at least 1")
	case *sources < 0 || *sources > 254:
		return options{}, errors.New("-sources must be from 0 to 254")
	case *dialWorkers < 1:
		return options{}, errors.New("-dial-workers must be at least 1")
	}
	return options{base: u, token: *token, conns: *conns, alerts: *alerts, interval: *interval,
		sources: *sources, dialWorkers: *dialWorkers, query: *query, wait: *wait, settle: *settle, ping: *ping}, nil
}

// receipt is one alert frame arriving on one connection.
type receipt struct {
	seq string
	at  time.Time
}

// runLoad is the load test against a running instance (no subcommand).
func runLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opt, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	raiseOpenFileLimit(stderr)
	client := &http.Client{Timeout: 30 * time.Second}
	before, err := scrape(ctx, client, opt.base)
	if err != nil {
		return err
	}

	receipts := make(chan receipt, opt.conns*4)
	var open atomic.Int64
	conns, err := connect(ctx, opt, receipts, &open)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "opened %d WebSocket connections\n", len(conns))

	after, err := settled(ctx, client, opt.base, opt.settle, stdout)
	if err != nil {
		return err
	}
	n := float64(len(conns))
	fmt.Fprintf(stdout, "server memory per connection: RSS %.1f KiB, Go heap in use %.1f KiB, goroutine stacks %.1f KiB (goroutines +%.0f)\n",
		(after["process_resident_memory_bytes"]-before["process_resident_memory_bytes"])/n/1024,
		(after["go_memstats_heap_inuse_bytes"]-before["go_memstats_heap_inuse_bytes"])/n/1024,
		(after["go_memstats_stack_inuse_bytes"]-before["go_memstats_stack_inuse_bytes"])/n/1024,
		after["go_goroutines"]-before["go_goroutines"])

	var all []time.Duration
	var missing int
	pending := map[string][]time.Time{}
	for i := range opt.alerts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(opt.interval):
			}
		}
		start := time.Now()
		id, err := publish(ctx, client, opt, i)
		if err != nil {
			return err
		}
		got := pending[id]
		delete(pending, id)
		deadline := time.After(opt.wait)
	collect:
		for len(got) < len(conns) {
			select {
			case r := <-receipts:
				if r.seq == id {
					got = append(got, r.at)
				} else {
					pending[r.seq] = append(pending[r.seq], r.at)
				}
			case <-deadline:
				break collect
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		lat := make([]time.Duration, len(got))
		for j, at := range got {
			lat[j] = at.Sub(start)
		}
		slices.Sort(lat)
		missing += len(conns) - len(got)
		all = append(all, lat...)
		fmt.Fprintf(stdout, "alert %d %s: reached %d/%d  %s\n", i+1, id, len(got), len(conns), summary(lat))
	}
	slices.Sort(all)
	fmt.Fprintf(stdout, "all alerts: %d deliveries, %d missing, %s\n", len(all), missing, summary(all))
	fmt.Fprintf(stdout, "connections still open: %d of %d\n", open.Load(), len(conns))
	return nil
}

// summary gives first, median, p99 and last of sorted latencies.
func summary(lat []time.Duration) string {
	if len(lat) == 0 {
		return "no deliveries"
	}
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return fmt.Sprintf("first %s  median %s  p99 %s  last %s",
		round(lat[0]), round(q(0.5)), round(q(0.99)), round(lat[len(lat)-1]))
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// connect opens opt.conns WebSockets, opt.dialWorkers at a time, each with
// a reading goroutine that reports alert frames to receipts.
func connect(ctx context.Context, opt options, receipts chan<- receipt, open *atomic.Int64) ([]*websocket.Conn, error) {
	wsURL := *opt.base
	wsURL.Scheme = strings.Replace(wsURL.Scheme, "http", "ws", 1)
	wsURL.Path = strings.TrimSuffix(wsURL.Path, "/") + "/ws"
	wsURL.RawQuery = opt.query
	loopback := false
	if ip := net.ParseIP(opt.base.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		loopback = true
	}
	conns := make([]*websocket.Conn, opt.conns)
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range opt.dialWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				d := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 512, WriteBufferSize: 512}
				if loopback && opt.sources > 0 {
					local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%opt.sources))}
					d.NetDialContext = (&net.Dialer{LocalAddr: local, Timeout: 30 * time.Second}).DialContext
				}
				c, _, err := d.DialContext(ctx, wsURL.String(), nil)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					continue
				}
				if opt.ping {
					_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`))
				}
				conns[i] = c
				open.Add(1)
				go read(c, receipts, open)
			}
		}()
	}
	for i := range opt.conns {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	opened := conns[:0]
	for _, c := range conns {
		if c != nil {
			opened = append(opened, c)
		}
	}
	return opened, firstErr
}

var seqField = []byte(`"seq":"`)

// read reports the arrival time of each alert frame; it looks for the seq
// field without decoding the whole frame, to keep the client cheap.
func read(c *websocket.Conn, receipts chan<- receipt, open *atomic.Int64) {
	defer open.Add(-1)
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		if !bytes.Contains(data, []byte(`"type":"alert"`)) {
			continue
		}
		i := bytes.Index(data, seqField)
		if i < 0 {
			continue
		}
		rest := data[i+len(seqField):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			continue
		}
		receipts <- receipt{seq: string(rest[:j]), at: at}
	}
}

// publish posts alert i through the API and returns its id.
func publish(ctx context.Context, client *http.Client, opt options, i int) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"headline": fmt.Sprintf("Load test alert %d at %s", i+1, time.Now().UTC().Format(time.TimeOnly)),
		"summary":  "A summary of typical length for a breaking-news alert, sent by flashwire-bench.",
		"url":      "https://news.example.com/load-test",
		"topics":   []string{"world"},
		"regions":  []string{"europe"},
		"priority": "flash",
	})
	req, err := http.NewRequestWithContext(ctx, "POST", opt.base.String()+"/api/v1/alerts", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+opt.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("publish alert %d: %w", i+1, err)
	}
	defer resp.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated || out.ID == "" {
		return "", fmt.Errorf("publish alert %d: status %d %s", i+1, resp.StatusCode, out.Error)
	}
	return out.ID, nil
}

// settled returns the server's metrics once two garbage collections have
// finished after the connections were opened (the first may have started
// marking while they were still being opened, and keeps what it found
// then), so the heap figure holds live memory and not the handshakes'
// garbage; after max it measures anyway and says so.
func settled(ctx context.Context, client *http.Client, base *url.URL, max time.Duration, stdout io.Writer) (map[string]float64, error) {
	first, err := scrape(ctx, client, base)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(max)
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		m, err := scrape(ctx, client, base)
		if err != nil {
			return nil, err
		}
		if m["go_gc_duration_seconds_count"] >= first["go_gc_duration_seconds_count"]+2 {
			return m, nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(stdout, "no server garbage collection yet: memory figures include garbage")
			return m, nil
		}
	}
}

// scrape reads the unlabelled gauges of the server's /metrics.
func scrape(ctx context.Context, client *http.Client, base *url.URL) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base.String()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out, sc.Err()
}

// raiseOpenFileLimit lifts the soft limit on open files to the hard limit:
// every connection is a file.
func raiseOpenFileLimit(stderr io.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(stderr, "cannot raise the open-file limit:", err)
		}
	}
}
