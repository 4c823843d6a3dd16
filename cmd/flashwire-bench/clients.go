package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client workers hold the readers' WebSockets in processes of their own
// (this binary, client), because one process may hold about 19,000
// sockets here and a run wants 45,000. A worker opens its connections,
// prints "open N", then answers commands on its standard input, one a line:
//
//	wait SEQ MS   reply "got SEQ N T1 ... TN" once SEQ reached every open
//	              connection or MS milliseconds passed: the arrival times
//	              (Unix nanoseconds) of frame SEQ on each connection
//	(EOF)         close the connections and exit
//
// Arrival times are wall-clock times, which every process on the machine
// reads from the same clock, so the parent subtracts its publish time.

// maxPerWorker is the most sockets one worker holds, under the 20,000
// open files a process may have here.
const maxPerWorker = 15000

// runClient is the worker: the client subcommand.
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flashwire-bench client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "", "base URL of the server (its /ws is opened)")
	conns := fs.Int("conns", 100, "WebSocket connections to open")
	sources := fs.Int("sources", 250, "loopback source addresses to spread connections over")
	dialWorkers := fs.Int("dial-workers", 64, "connections opened at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	base, err := url.Parse(*rawURL)
	if err != nil || base.Host == "" {
		return fmt.Errorf("-url: %q is not a URL", *rawURL)
	}
	raiseOpenFileLimit(stderr)
	opt := options{base: base, conns: *conns, sources: *sources, dialWorkers: *dialWorkers}
	receipts := make(chan receipt, *conns*4)
	var open atomic.Int64
	cs, err := connect(ctx, opt, receipts, &open)
	defer func() {
		for _, c := range cs {
			_ = c.Close()
		}
	}()
	out := bufio.NewWriter(stdout)
	if err != nil {
		fmt.Fprintf(out, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return out.Flush()
	}
	fmt.Fprintf(out, "open %d\n", len(cs))
	if err := out.Flush(); err != nil {
		return err
	}

	type waitCmd struct {
		seq    string
		within time.Duration
	}
	cmds := make(chan waitCmd)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "wait" {
				continue
			}
			ms, _ := strconv.Atoi(f[2])
			cmds <- waitCmd{seq: f[1], within: time.Duration(ms) * time.Millisecond}
		}
	}()
	got := map[string][]int64{}
	var cur *waitCmd
	var deadline <-chan time.Time
	reply := func() error {
		ts := got[cur.seq]
		delete(got, cur.seq)
		var b strings.Builder
		fmt.Fprintf(&b, "got %s %d", cur.seq, len(ts))
		for _, t := range ts {
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(t, 10))
		}
		b.WriteByte('\n')
		cur, deadline = nil, nil
		if _, err := out.WriteString(b.String()); err != nil {
			return err
		}
		return out.Flush()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-cmds:
			if !ok {
				return nil
			}
			cur, deadline = &c, time.After(c.within)
			if int64(len(got[c.seq])) >= open.Load() {
				if err := reply(); err != nil {
					return err
				}
			}
		case r := <-receipts:
			got[r.seq] = append(got[r.seq], r.at.UnixNano())
			if cur != nil && r.seq == cur.seq && int64(len(got[r.seq])) >= open.Load() {
				if err := reply(); err != nil {
					return err
				}
			}
		case <-deadline:
			if err := reply(); err != nil {
				return err
			}
		}
	}
}

// clientWorker is the parent's handle on one worker.
type clientWorker struct {
	c     *child
	in    io.WriteCloser
	out   *bufio.Reader
	conns int
}

// startClients starts enough workers to open conns connections to base,
// at most maxPerWorker each, and returns them once all are open.
func startClients(ctx context.Context, self, base string, conns, sources, dialWorkers int) ([]*clientWorker, error) {
	var ws []*clientWorker
	for left := conns; left > 0; left -= maxPerWorker {
		n := min(left, maxPerWorker)
		c, in, out, err := startChild(fmt.Sprintf("client worker %d", len(ws)+1), self, []string{
			"client", "-url", base, "-conns", strconv.Itoa(n),
			"-sources", strconv.Itoa(sources), "-dial-workers", strconv.Itoa(dialWorkers),
		}, nil, true)
		if err != nil {
			stopClients(ws)
			return nil, err
		}
		ws = append(ws, &clientWorker{c: c, in: in, out: bufio.NewReaderSize(out, 1<<20), conns: n})
	}
	return ws, nil
}

// awaitOpen waits for every worker's "open N" line.
func awaitOpen(ctx context.Context, ws []*clientWorker) (int, error) {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			line, err := w.out.ReadString('\n')
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w\n%s", w.c.name, err, w.c.tail.String())
				return
			}
			f := strings.Fields(line)
			if len(f) != 2 || f[0] != "open" {
				errs[i] = fmt.Errorf("%s: %s", w.c.name, strings.TrimSpace(line))
				return
			}
			if n, _ := strconv.Atoi(f[1]); n != w.conns {
				errs[i] = fmt.Errorf("%s opened %s of %d connections", w.c.name, f[1], w.conns)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		stopClients(ws)
		return 0, ctx.Err()
	}
	total := 0
	for _, w := range ws {
		total += w.conns
	}
	return total, errors.Join(errs...)
}

// collect asks every worker for the arrival times of seq and returns the
// latencies from start, unsorted, worker by worker.
func collect(ws []*clientWorker, seq string, start time.Time, within time.Duration) ([][]time.Duration, error) {
	lats := make([][]time.Duration, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fmt.Fprintf(w.in, "wait %s %d\n", seq, within.Milliseconds()); err != nil {
				errs[i] = fmt.Errorf("%s: %w\n%s", w.c.name, err, w.c.tail.String())
				return
			}
			line, err := w.out.ReadString('\n')
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w\n%s", w.c.name, err, w.c.tail.String())
				return
			}
			f := strings.Fields(line)
			if len(f) < 3 || f[0] != "got" || f[1] != seq {
				errs[i] = fmt.Errorf("%s answered %.80q", w.c.name, line)
				return
			}
			for _, s := range f[3:] {
				ns, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					errs[i] = fmt.Errorf("%s: arrival time %q", w.c.name, s)
					return
				}
				lats[i] = append(lats[i], time.Unix(0, ns).Sub(start))
			}
		}()
	}
	wg.Wait()
	return lats, errors.Join(errs...)
}

// stopClients closes the workers' input (they close their connections and
// exit) and waits for them.
func stopClients(ws []*clientWorker) {
	for _, w := range ws {
		_ = w.in.Close()
	}
	for _, w := range ws {
		select {
		case <-w.c.done:
		case <-time.After(10 * time.Second):
			w.c.stop()
		}
	}
}
