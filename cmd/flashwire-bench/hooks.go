package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"flashwire"
	"flashwire/notifier/webhook"
)

// A webhook run: the same local receivers (which check every signature)
// get partners x alerts signed POSTs, once from the floor (a bare loop of
// signed keep-alive POSTs in this process) and once from Flashwire (one
// instance on a redis-server the tool starts, the partners created and
// the alerts published through its API), alternating, each on fresh
// processes and receivers. Throughput is deliveries / (last receipt -
// first publish).

// floorWorkers and floorPerPartner match Flashwire's defaults
// (FLASHWIRE_WEBHOOK_WORKERS, at most 4 requests waiting on one partner).
const (
	floorWorkers    = 256
	floorPerPartner = 4
)

type hookConfig struct {
	flashwireBin string
	flashwireEnv []string
	dir          string
	partners     int
	alerts       int
	wait         time.Duration
	rounds       int
	pause        time.Duration
	progress     io.Writer
}

// hookRun is what one webhook run measured.
type hookRun struct {
	side       string
	expected   int
	received   int // distinct webhook-ids with a valid signature
	bad        int // receipts whose signature did not verify
	elapsed    time.Duration
	loadBefore string
	loadAfter  string
}

func (r hookRun) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.received) / r.elapsed.Seconds()
}

type hookPair struct {
	partners, alerts int
	floor, flash     []hookRun
}

// receivers are the local webhook endpoints, one listener each.
type receivers struct {
	mu      sync.Mutex
	secrets []string
	seen    map[string]bool
	bad     int
	last    time.Time
	urls    []string
	servers []*http.Server
}

func startReceivers(n int) (*receivers, error) {
	rc := &receivers{secrets: make([]string, n), seen: map[string]bool{}}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			rc.close()
			return nil, err
		}
		srv := &http.Server{Handler: rc.handler(i), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		rc.servers = append(rc.servers, srv)
		rc.urls = append(rc.urls, "http://"+ln.Addr().String()+"/hook")
	}
	return rc, nil
}

// handler verifies the signature (as a partner must) and counts each
// webhook-id once, whatever retries bring.
func (rc *receivers) handler(i int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		at := time.Now()
		id := r.Header.Get("webhook-id")
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		rc.mu.Lock()
		secret := rc.secrets[i]
		rc.mu.Unlock()
		want, err := webhook.Sign(id, time.Unix(ts, 0), body, secret)
		ok := err == nil && id != "" && containsSig(r.Header.Get("webhook-signature"), want)
		rc.mu.Lock()
		switch {
		case !ok:
			rc.bad++
		case bytes.Contains(body, []byte("Load test alert")) && !rc.seen[id]:
			rc.seen[id] = true
			rc.last = at
		}
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

// containsSig says whether any of the space-separated signatures in got
// is want.
func containsSig(got, want string) bool {
	for _, s := range strings.Fields(got) {
		if s == want {
			return true
		}
	}
	return false
}

func (rc *receivers) state() (received, bad int, last time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.seen), rc.bad, rc.last
}

func (rc *receivers) close() {
	for _, s := range rc.servers {
		_ = s.Close()
	}
}

// runHooks runs the comparison and returns each side's runs in order.
func runHooks(ctx context.Context, cfg hookConfig) (floorRuns, flashRuns []hookRun, err error) {
	for round := range cfg.rounds {
		for _, side := range []string{"floor", "flashwire"} {
			if err := sleep(ctx, cfg.pause); err != nil {
				return nil, nil, err
			}
			fmt.Fprintf(cfg.progress, "webhooks, %d partners x %d alerts, round %d of %d: %s\n", cfg.partners, cfg.alerts, round+1, cfg.rounds, side)
			r, err := hookOnce(ctx, cfg, side)
			if err != nil {
				return nil, nil, fmt.Errorf("%s, round %d: %w", side, round+1, err)
			}
			fmt.Fprintf(cfg.progress, "  %d of %d received (%d bad signatures) in %s: %.0f deliveries/s  load %s -> %s\n",
				r.received, r.expected, r.bad, r.elapsed.Round(time.Millisecond), r.perSecond(), r.loadBefore, r.loadAfter)
			if side == "floor" {
				floorRuns = append(floorRuns, r)
			} else {
				flashRuns = append(flashRuns, r)
			}
		}
	}
	return floorRuns, flashRuns, nil
}

func hookOnce(ctx context.Context, cfg hookConfig, side string) (hookRun, error) {
	run := hookRun{side: side, expected: cfg.partners * cfg.alerts, loadBefore: loadAvg()}
	rc, err := startReceivers(cfg.partners)
	if err != nil {
		return run, err
	}
	defer rc.close()
	var start time.Time
	if side == "floor" {
		for i := range rc.secrets {
			rc.secrets[i] = webhook.NewSecret()
		}
		start = time.Now()
		if err := floorHooks(ctx, rc, cfg.alerts); err != nil {
			return run, err
		}
	} else {
		redis, redisURL, err := startRedis(ctx, cfg.dir)
		if err != nil {
			return run, err
		}
		defer redis.stop()
		fw, base, err := startFlashwire(ctx, cfg.flashwireBin, "flashwire-webhooks", redisURL, benchToken,
			append([]string{"FLASHWIRE_OUTBOUND_ALLOW=127.0.0.1"}, cfg.flashwireEnv...)...)
		if err != nil {
			return run, err
		}
		defer fw.stop()
		client := &http.Client{Timeout: 30 * time.Second}
		for i, u := range rc.urls {
			var p struct {
				Secret string `json:"secret"`
			}
			if err := apiJSON(ctx, client, base, "POST", "/api/v1/partners", map[string]any{
				"name": fmt.Sprintf("Bench partner %d", i+1), "url": u, "topics": []string{"world"},
			}, &p); err != nil {
				return run, err
			}
			rc.mu.Lock()
			rc.secrets[i] = p.Secret
			rc.mu.Unlock()
		}
		u, _ := url.Parse(base)
		start = time.Now()
		for i := range cfg.alerts {
			if _, err := publish(ctx, client, options{base: u, token: benchToken}, i); err != nil {
				return run, err
			}
		}
		defer func() {
			if err := fw.exited(); err != nil {
				fmt.Fprintln(cfg.progress, err)
			}
		}()
	}
	_ = waitFor(ctx, cfg.wait, func() bool {
		n, _, _ := rc.state()
		return n >= run.expected
	})
	var last time.Time
	run.received, run.bad, last = rc.state()
	if run.received > 0 {
		run.elapsed = last.Sub(start)
	}
	run.loadAfter = loadAvg()
	return run, nil
}

// floorHooks is the floor: every (alert, partner) POST, signed, from a
// pool of workers over keep-alive connections, alert by alert.
func floorHooks(ctx context.Context, rc *receivers, alerts int) error {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxConnsPerHost: floorPerPartner, MaxIdleConnsPerHost: floorPerPartner, MaxIdleConns: floorWorkers * 2,
	}}
	defer client.CloseIdleConnections()
	type job struct {
		partner int
		id      string
		body    []byte
	}
	jobs := make(chan job, floorWorkers)
	errs := make(chan error, floorWorkers)
	var wg sync.WaitGroup
	for range floorWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ts := time.Now()
				sig, err := webhook.Sign(j.id, ts, j.body, rc.secrets[j.partner])
				if err == nil {
					err = postHook(ctx, client, rc.urls[j.partner], j.id, ts, sig, j.body)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range alerts {
		a := benchAlert(i, time.Now())
		a.ID = fmt.Sprintf("floor-%d", i)
		a.PublishedAt = time.Now()
		body, err := json.Marshal(struct {
			Type      string           `json:"type"`
			Timestamp time.Time        `json:"timestamp"`
			Data      *flashwire.Alert `json:"data"`
		}{"alert.published", time.Now(), &a})
		if err != nil {
			close(jobs)
			return err
		}
		for p := range rc.urls {
			jobs <- job{partner: p, id: fmt.Sprintf("msg_floor_%d_%d", i, p), body: body}
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("floor webhook: %w", err)
	default:
		return nil
	}
}

func postHook(ctx context.Context, client *http.Client, u, id string, ts time.Time, sig string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %d", u, resp.StatusCode)
	}
	return nil
}

// apiJSON sends a JSON request to Flashwire's API as the bench's admin
// and decodes a 2xx answer into out.
func apiJSON(ctx context.Context, client *http.Client, base, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

func (p *hookPair) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "### Webhooks: %d partners, %d alerts (%s signed deliveries a run)\n\n", p.partners, p.alerts, thousands(p.partners*p.alerts))
	fmt.Fprintf(b, "Receivers: %d local HTTP servers in the tool's process, each checking the Standard Webhooks\n"+
		"signature and counting each `webhook-id` once. Floor: a bare loop of signed keep-alive POSTs from\n"+
		"%d workers, at most %d connections to a partner (Flashwire's defaults), in the same process.\n"+
		"Flashwire: one instance on its own redis-server (append-only, fsync every second), the partners\n"+
		"created through `POST /api/v1/partners` (`FLASHWIRE_OUTBOUND_ALLOW=127.0.0.1`), the alerts published\n"+
		"one after another through `POST /api/v1/alerts`. Deliveries a second = deliveries / (last receipt -\n"+
		"first publish). The floor is pure CPU (signing, and HTTP at both ends, all in one process) and\n"+
		"loses the most when other work takes the cores, while Flashwire spends part of its time waiting on\n"+
		"Redis: on a busy machine the ratio flatters Flashwire, so compare it with runs at similar load.\n"+
		"The webhook runs go first, before the fan-out runs.\n\n", p.partners, floorWorkers, floorPerPartner)
	fmt.Fprintf(b, "| figure (median of %d) | floor | Flashwire | Flashwire / floor |\n|---|---|---|---|\n", len(p.flash))
	dps := func(r hookRun) float64 { return r.perSecond() }
	el := func(r hookRun) float64 { return msOf(r.elapsed) }
	rcv := func(r hookRun) float64 { return 100 * float64(r.received) / float64(max(1, r.expected)) }
	fl, fw := median(p.floor, dps), median(p.flash, dps)
	fmt.Fprintf(b, "| deliveries a second, publish to receipt | %.0f/s | %.0f/s | %s |\n", fl, fw, ratio(fw, fl))
	fl, fw = median(p.floor, el), median(p.flash, el)
	fmt.Fprintf(b, "| first publish to last receipt | %.0f ms | %.0f ms | %s |\n", fl, fw, ratio(fw, fl))
	fmt.Fprintf(b, "| received | %.2f%% | %.2f%% | |\n", median(p.floor, rcv), median(p.flash, rcv))
	b.WriteString("\nEach run, in the order run:\n\n| run | side | received (bad signatures) | time | deliveries a second | load average before -> after |\n|---|---|---|---|---|---|\n")
	for i := range p.flash {
		for _, r := range []hookRun{p.floor[i], p.flash[i]} {
			fmt.Fprintf(b, "| %d | %s | %s of %s (%d) | %s | %.0f/s | %s -> %s |\n", i+1, r.side,
				thousands(r.received), thousands(r.expected), r.bad, r.elapsed.Round(time.Millisecond), r.perSecond(), r.loadBefore, r.loadAfter)
		}
	}
	b.WriteString("\n")
}
