package webpush

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"flashwire"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
	"flashwire/subscribers"
)

// result is what became of one push.
type result struct {
	what    string        // an outcome, or "" to try again
	retryAt time.Time     // when, for ""
	latency time.Duration // event to 2xx
}

// send sends the subscriptions of one step a push each. Subscriptions of
// a push service that asked to be left alone are deferred without a
// claim. The others go in chunks: a chunk takes its workers first and only
// then claims its subscriptions, so what a crash leaves claimed but not
// recorded is what was in flight, not a whole step.
func (s *Sender) send(ctx context.Context, j job, targets []subscribers.PushTarget) error {
	if len(targets) == 0 {
		return nil
	}
	raw, cancelled, err := s.q.alert(ctx, j)
	if err != nil {
		return err
	}
	if cancelled && j.Type == string(flashwire.Published) {
		return errCancelled
	}
	var a flashwire.Alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode alert of web push job %s: %w", j.ID, err)
	}
	payload := Payload(flashwire.EventType(j.Type), a)
	now := s.Now()
	var ready []subscribers.PushTarget
	var later []deferral
	for _, t := range targets {
		if until, blocked := s.hosts.blocked(hostOf(t.Endpoint), now); blocked {
			later = append(later, deferral{bit: t.Bit, due: until})
			continue
		}
		ready = append(ready, t)
	}
	if len(later) > 0 {
		if _, err := s.q.claim(ctx, j, s.token, now, s.opts.Timeout+time.Second, nil, later); err != nil {
			return err
		}
	}
	chunk := max(1, min(32, s.opts.Workers/4))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for len(ready) > 0 {
		part := ready[:min(chunk, len(ready))]
		ready = ready[len(part):]
		if err := s.takeWorkers(ctx, len(part)); err != nil {
			wg.Wait()
			return err
		}
		bits := make([]int, len(part))
		byBit := make(map[int]subscribers.PushTarget, len(part))
		for i, t := range part {
			bits[i], byBit[t.Bit] = t.Bit, t
		}
		claimed, err := s.q.claim(ctx, j, s.token, s.Now(), s.opts.Timeout+time.Second, bits, nil)
		for range len(part) - len(claimed) {
			<-s.workers
		}
		if err != nil {
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.pushChunk(ctx, j, a, payload, claimed, byBit); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return first
}

// takeWorkers takes n worker slots at once: one job at a time takes, so
// jobs that each hold part of what they need never wait on each other.
func (s *Sender) takeWorkers(ctx context.Context, n int) error {
	s.taking.Lock()
	defer s.taking.Unlock()
	for i := range n {
		select {
		case s.workers <- struct{}{}:
		case <-ctx.Done():
			for range i {
				<-s.workers
			}
			return ctx.Err()
		}
	}
	return nil
}

// pushChunk sends the claimed subscriptions, each on a worker taken for
// it, and records the outcomes and figures.
func (s *Sender) pushChunk(ctx context.Context, j job, a flashwire.Alert, payload []byte, claimed []int, byBit map[int]subscribers.PushTarget) error {
	results := make([]result, len(claimed))
	var wg sync.WaitGroup
	for i, bit := range claimed {
		wg.Add(1)
		go func() {
			defer func() { <-s.workers; wg.Done() }()
			// The library appends its padding to the slice it is given:
			// each push gets one with no room to append into.
			results[i] = s.push(ctx, j, a, payload[:len(payload):len(payload)], byBit[bit])
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// The lease is lost: the next holder counts these as interrupted.
		return ctx.Err()
	}
	var final []outcome
	var again []deferral
	var latencies []time.Duration
	for i, bit := range claimed {
		r := results[i]
		if r.what == "" {
			again = append(again, deferral{bit: bit, due: r.retryAt})
			continue
		}
		final = append(final, outcome{bit: bit, what: r.what})
		latencies = append(latencies, r.latency)
	}
	counted, err := s.q.record(ctx, j, s.token, final, again)
	if err != nil {
		return err
	}
	var t notifier.Tally
	for i, o := range final {
		if o.what == outRemoved {
			if err := s.dir.DropPush(ctx, byBit[o.bit]); err != nil {
				s.log.Warn("remove gone push subscription", "error", err.Error())
			}
		}
		if !counted[i] {
			continue
		}
		t.Pending--
		switch o.what {
		case outReached:
			// Web Push tells each subscription what its event was: no
			// moves, so no event id is needed.
			t.Add(notifier.Delivered(flashwire.EventType(j.Type), flashwire.EventType(j.Type), strconv.Itoa(j.Shard)+":"+strconv.Itoa(o.bit), "", latencies[i]))
			s.metrics.latency.Observe(latencies[i].Seconds())
		case outRemoved:
			t.Removed++
		default:
			t.Failed++
		}
	}
	s.figures(ctx, j, t)
	return nil
}

// figures adds t to the alert's figures at once, not batched: the
// outcomes are recorded in the job already, and a crash must not lose
// their count.
func (s *Sender) figures(ctx context.Context, j job, t notifier.Tally) {
	if s.opts.Stats == nil || (t.Pending == 0 && t.Reached == 0 && t.Updates == 0 && t.Retractions == 0 && t.Failed == 0 && t.Expired == 0 && t.Removed == 0) {
		return
	}
	if err := s.opts.Stats.Record(ctx, j.AlertID, notifier.WebPush, t); err != nil {
		s.log.Warn("record web push figures", "alert", j.AlertID, "error", err.Error())
	}
}

// push encrypts the payload for one subscription (RFC 8291), signs the
// request (VAPID, RFC 8292) and posts it to the push service (RFC 8030).
func (s *Sender) push(ctx context.Context, j job, a flashwire.Alert, payload []byte, t subscribers.PushTarget) result {
	host := hostOf(t.Endpoint)
	label := s.hosts.label(host)
	count := func(what string) { s.metrics.sends.WithLabelValues(what, label).Inc() }
	if err := s.opts.Outbound.Allow.CheckHTTPS(t.Endpoint); err != nil {
		count("failed")
		return result{what: outFailed}
	}
	// The push service keeps the message until the deadline, no longer.
	ttl := max(int(j.Deadline.Sub(s.Now())/time.Second), 1)
	if err := s.hosts.acquire(ctx, host); err != nil {
		return result{retryAt: s.Now()}
	}
	defer s.hosts.release(host)
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	resp, err := webpush.SendNotificationWithContext(rctx, payload,
		&webpush.Subscription{Endpoint: t.Endpoint, Keys: webpush.Keys{P256dh: t.Keys.P256dh, Auth: t.Keys.Auth}},
		&webpush.Options{
			HTTPClient: s.client,
			// The library prefixes mailto: to whatever is not https:.
			Subscriber:      strings.TrimPrefix(s.opts.Subject, "mailto:"),
			Topic:           Topic(j.AlertID),
			TTL:             ttl,
			Urgency:         webpush.Urgency(Urgency(a.Priority)),
			VAPIDPublicKey:  s.opts.Keys.Public,
			VAPIDPrivateKey: s.opts.Keys.Private,
		})
	s.metrics.duration.Observe(time.Since(start).Seconds())
	now := s.Now()
	if err != nil {
		if ctx.Err() != nil {
			return result{}
		}
		count("retry")
		s.log.Debug("push failed; trying again", "host", host, "error", err.Error())
		return result{retryAt: s.hosts.fail(host, now, 0, false)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.hosts.ok(host)
		count("reached")
		return result{what: outReached, latency: max(now.Sub(j.Created), 0)}
	case code == http.StatusNotFound || code == http.StatusGone:
		count("removed")
		return result{what: outRemoved}
	case code == http.StatusRequestEntityTooLarge:
		count("failed")
		s.log.Error("push service refused a payload as too large: Flashwire keeps payloads within 4 KB, so this is a bug",
			"host", host, "status", code, "payload_bytes", len(payload), "max_bytes", MaxPayload)
		return result{what: outFailed}
	case code == http.StatusTooManyRequests || code >= 500:
		wait, ok := outbound.RetryAfter(resp.Header, now)
		count("retry")
		return result{retryAt: s.hosts.fail(host, now, wait, ok)}
	default:
		count("failed")
		s.log.Warn("push service refused a push", "host", host, "status", code)
		return result{what: outFailed}
	}
}
