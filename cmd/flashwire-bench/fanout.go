package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A fan-out run: the same readers, the same alerts, once on the floor
// (floor servers, one per instance) and once on Flashwire (instances on
// one redis-server), alternating floor, Flashwire, floor, ... for the
// given rounds, each run on fresh processes.

// fanoutConfig is one side-by-side comparison.
type fanoutConfig struct {
	self         string // this binary, for floor servers and client workers
	flashwireBin string
	flashwireEnv []string // more environment for every instance
	dir          string   // temporary directory for Redis's files
	instances    int
	conns        int // per instance
	alerts       int
	interval     time.Duration
	wait         time.Duration
	settle       time.Duration
	rounds       int
	pause        time.Duration
	sources      int
	dialWorkers  int
	progress     io.Writer
}

// fanoutRun is what one run of one side measured.
type fanoutRun struct {
	side        string // "floor" or "flashwire"
	readers     int
	delivered   int
	expected    int
	lastP50     time.Duration // over alerts, of the time to the alert's last reader
	lastP99     time.Duration
	readerP50   time.Duration // over every (alert, reader) delivery
	readerP99   time.Duration
	rssDeltaKiB float64 // (RSS after - RSS before connections) per connection, all servers
	rssTotalKiB float64 // RSS after / connections
	heapKiB     float64 // Go heap in use, (after - before) / connections
	stackKiB    float64 // goroutine stacks, (after - before) / connections
	gcsSettled  bool    // two collections after the connections opened, on every server
	settleTime  time.Duration
	// serverLastP99 is, for each server, the p99 over alerts of the time
	// to the last of that server's readers (a worker's readers are on one
	// server, so an alert's last reader there is its workers' latest).
	serverLastP99 []time.Duration
	lasts         []time.Duration // each alert's last reader, in the order published
	loadBefore    string
	loadAfter     string
}

func (r fanoutRun) reach() float64 { return 100 * float64(r.delivered) / float64(max(1, r.expected)) }

const benchToken = "flashwire-bench-admin-token-0123456789abcdef"

// runFanout runs the comparison and returns each side's runs in order.
func runFanout(ctx context.Context, cfg fanoutConfig) (floorRuns, flashRuns []fanoutRun, err error) {
	for round := range cfg.rounds {
		for _, side := range []string{"floor", "flashwire"} {
			if err := sleep(ctx, cfg.pause); err != nil {
				return nil, nil, err
			}
			fmt.Fprintf(cfg.progress, "fan-out %d x %d readers, round %d of %d: %s\n", cfg.instances, cfg.conns, round+1, cfg.rounds, side)
			r, err := fanoutOnce(ctx, cfg, side)
			if err != nil {
				return nil, nil, fmt.Errorf("%s, round %d: %w", side, round+1, err)
			}
			fmt.Fprintf(cfg.progress, "  reach %.2f%%  last reader p50 %s p99 %s  per reader p50 %s p99 %s  RSS +%.1f KiB/conn  load %s -> %s\n",
				r.reach(), ms(r.lastP50), ms(r.lastP99), ms(r.readerP50), ms(r.readerP99), r.rssDeltaKiB, r.loadBefore, r.loadAfter)
			each := make([]string, len(r.lasts))
			for i, d := range r.lasts {
				each[i] = fmt.Sprintf("%.0f", msOf(d))
			}
			fmt.Fprintf(cfg.progress, "  last reader of each alert, in order: %s ms\n", strings.Join(each, " "))
			if side == "floor" {
				floorRuns = append(floorRuns, r)
			} else {
				flashRuns = append(flashRuns, r)
			}
		}
	}
	return floorRuns, flashRuns, nil
}

// server is one floor server or Flashwire instance under test.
type server struct {
	c    *child
	base string
}

// fanoutOnce starts one side's servers, opens the readers, lets the
// servers settle, reads their memory, publishes the alerts and times them.
func fanoutOnce(ctx context.Context, cfg fanoutConfig, side string) (fanoutRun, error) {
	run := fanoutRun{side: side, loadBefore: loadAvg()}
	var servers []server
	var redis *child
	defer func() {
		for _, s := range servers {
			s.c.stop()
		}
		redis.stop()
	}()
	if side == "floor" {
		for i := range cfg.instances {
			c, base, err := startFloor(cfg.self, fmt.Sprintf("floor server %d", i+1))
			if err != nil {
				return run, err
			}
			servers = append(servers, server{c, base})
		}
	} else {
		var redisURL string
		var err error
		if redis, redisURL, err = startRedis(ctx, cfg.dir); err != nil {
			return run, err
		}
		for i := range cfg.instances {
			c, base, err := startFlashwire(ctx, cfg.flashwireBin, fmt.Sprintf("flashwire-%d", i+1), redisURL, benchToken, cfg.flashwireEnv...)
			if err != nil {
				return run, err
			}
			servers = append(servers, server{c, base})
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	before, err := memOf(ctx, client, side, servers)
	if err != nil {
		return run, err
	}

	var workers []*clientWorker
	var serverOf []int // the server each worker's readers are on
	defer func() { stopClients(workers) }()
	for i, s := range servers {
		ws, err := startClients(ctx, cfg.self, s.base, cfg.conns, cfg.sources, cfg.dialWorkers)
		workers = append(workers, ws...)
		for range ws {
			serverOf = append(serverOf, i)
		}
		if err != nil {
			return run, err
		}
	}
	n, err := awaitOpen(ctx, workers)
	if err != nil {
		return run, err
	}
	run.readers = n

	// Memory: read once every server has completed two garbage
	// collections since the readers connected (the first may have been
	// marking while they connected). An idle Go program collects only every
	// 2 minutes, so the tool brings them on: the floor collects when asked
	// (POST /gc); Flashwire's /metrics is read in a loop, whose garbage
	// brings its next collections (its go_gc_duration_seconds_count counts
	// them). After cfg.settle the memory is read anyway, and the run says so.
	gcs := make([]float64, len(servers))
	for i, s := range servers {
		if gcs[i], err = gcCount(ctx, client, side, s.base); err != nil {
			return run, err
		}
	}
	settleStart := time.Now()
	for !run.gcsSettled && time.Since(settleStart) < cfg.settle {
		run.gcsSettled = true
		for i, s := range servers {
			now, err := gcCount(ctx, client, side, s.base)
			if err != nil {
				return run, err
			}
			if now < gcs[i]+2 {
				run.gcsSettled = false
			}
		}
	}
	run.settleTime = time.Since(settleStart)
	after, err := memOf(ctx, client, side, servers)
	if err != nil {
		return run, err
	}
	run.rssDeltaKiB = (after.rss - before.rss) / float64(n)
	run.rssTotalKiB = after.rss / float64(n)
	run.heapKiB = (after.heap - before.heap) / float64(n)
	run.stackKiB = (after.stack - before.stack) / float64(n)

	var all, lasts []time.Duration
	byServer := make([][]time.Duration, len(servers)) // each alert's last reader on each server
	for i := range cfg.alerts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return run, ctx.Err()
			case <-time.After(cfg.interval):
			}
		}
		start := time.Now()
		seq, err := publishTo(ctx, client, side, servers, i)
		if err != nil {
			return run, err
		}
		byWorker, err := collect(workers, seq, start, cfg.wait)
		if err != nil {
			return run, err
		}
		var lat []time.Duration
		for w, l := range byWorker {
			lat = append(lat, l...)
			if len(l) > 0 {
				byServer[serverOf[w]] = append(byServer[serverOf[w]], slices.Max(l))
			}
		}
		slices.Sort(lat)
		run.expected += n
		run.delivered += len(lat)
		all = append(all, lat...)
		if len(lat) > 0 {
			lasts = append(lasts, lat[len(lat)-1])
		}
	}
	slices.Sort(all)
	run.lasts = slices.Clone(lasts)
	slices.Sort(lasts)
	run.readerP50, run.readerP99 = quantile(all, 0.5), quantile(all, 0.99)
	run.lastP50, run.lastP99 = quantile(lasts, 0.5), quantile(lasts, 0.99)
	for _, l := range byServer {
		slices.Sort(l)
		run.serverLastP99 = append(run.serverLastP99, quantile(l, 0.99))
	}
	for _, s := range servers {
		if err := s.c.exited(); err != nil {
			return run, err
		}
	}
	run.loadAfter = loadAvg()
	return run, nil
}

// publishTo publishes alert i: through Flashwire's API on its first
// instance, or to every floor server. It returns the frames' seq.
func publishTo(ctx context.Context, client *http.Client, side string, servers []server, i int) (string, error) {
	if side == "flashwire" {
		base, _ := url.Parse(servers[0].base)
		return publish(ctx, client, options{base: base, token: benchToken}, i)
	}
	seq := fmt.Sprintf("floor-%d-%d", time.Now().UnixNano(), i)
	for _, s := range servers {
		req, err := http.NewRequestWithContext(ctx, "POST", s.base+"/publish?seq="+seq, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fmt.Errorf("floor publish: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return "", fmt.Errorf("floor publish: status %d", resp.StatusCode)
		}
	}
	return seq, nil
}

// gcCount reads how many garbage collections a server has completed:
// Flashwire's go_gc_duration_seconds_count (reading it makes garbage), the
// floor's POST /gc (which collects first).
func gcCount(ctx context.Context, client *http.Client, side, base string) (float64, error) {
	if side == "flashwire" {
		u, _ := url.Parse(base)
		m, err := scrape(ctx, client, u)
		if err != nil {
			return 0, err
		}
		v, ok := m["go_gc_duration_seconds_count"]
		if !ok {
			return 0, errors.New("no go_gc_duration_seconds_count in /metrics")
		}
		return v, nil
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/gc", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
}

// memory is the servers' resident memory and Go heap and stacks in use,
// added up, in KiB.
type memory struct{ rss, heap, stack float64 }

// memOf reads the servers' memory: VmRSS, and HeapInuse and StackInuse
// (Flashwire's go_memstats_heap_inuse_bytes and
// go_memstats_stack_inuse_bytes, the floor's GET /mem).
func memOf(ctx context.Context, client *http.Client, side string, servers []server) (memory, error) {
	var m memory
	for _, s := range servers {
		kib, err := s.c.rssKiB()
		if err != nil {
			return m, err
		}
		m.rss += kib
		var heap, stack float64
		if side == "flashwire" {
			u, _ := url.Parse(s.base)
			g, err := scrape(ctx, client, u)
			if err != nil {
				return m, err
			}
			heap, stack = g["go_memstats_heap_inuse_bytes"], g["go_memstats_stack_inuse_bytes"]
		} else {
			req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/mem", nil)
			if err != nil {
				return m, err
			}
			resp, err := client.Do(req)
			if err != nil {
				return m, fmt.Errorf("floor memory: %w", err)
			}
			_, err = fmt.Fscan(resp.Body, &heap, &stack)
			resp.Body.Close()
			if err != nil {
				return m, fmt.Errorf("floor memory: %w", err)
			}
		}
		m.heap += heap / 1024
		m.stack += stack / 1024
	}
	return m, nil
}

// quantile of sorted durations; zero for none.
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
