package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claiming: a Sender's Run takes due deliveries with a lease and starts
// them. Its claimers loops run side by side, each taking at most
// claimBatch deliveries a call, so the round trips of one batch (claim,
// partner look-up) overlap the next batch's, and no single
// script holds Redis long enough to delay other clients' commands.
const (
	claimers   = 4
	claimBatch = 64
)

// Run delivers until ctx ends, then waits for the attempts in flight (each
// bounded by the timeout) and their records, and returns: that is the
// drain at shutdown. Deliveries claimed but not finished by a process that
// dies come due again when their lease ends, for any instance.
//
// Redis sees a few round trips per claimed batch, not per delivery: one
// claim (which also marks the tries in flight, checks the secrets cache
// and brings each event's body once) and one partner look-up; outcomes go
// to one recorder goroutine that stores them in batches (see recorder.go).
func (s *Sender) Run(ctx context.Context) error {
	// Attempts outlive ctx so a drain finishes them instead of cutting
	// them off mid-request; the timeout still bounds each.
	work := context.WithoutCancel(ctx)
	r := &running{s: s, work: work, done: make(chan struct{}, s.opts.Workers), rec: newRecorder(s),
		jobs: make(chan job, s.opts.Workers)}
	flushStop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		s.tally.Run(work, flushStop, s.log)
	}()
	go r.rec.run(work)
	for range s.opts.Workers {
		r.workers.Add(1)
		go r.sendLoop()
	}
	// The gauges' first look is at the queue as this instance found it.
	s.sample(ctx)
	var loops sync.WaitGroup
	for i := range claimers {
		loops.Add(1)
		go func() {
			defer loops.Done()
			r.claimLoop(ctx, i == 0)
		}()
	}
	loops.Wait()
	close(r.jobs)
	r.workers.Wait()
	r.rec.close()
	close(flushStop)
	<-flushed
	return ctx.Err()
}

// running is the state of one Run shared by its claimers.
type running struct {
	s    *Sender
	work context.Context
	// slots counts the worker slots taken, by claims under way and by
	// attempts in flight; at most Options.Workers.
	slots atomic.Int64
	// done hears of finished attempts, to wake a claimer waiting for a slot.
	done chan struct{}
	// jobs hands claimed deliveries to the workers. A claimer holds a slot
	// for each job it hands over and there are as many workers as slots,
	// so a handover never waits for long: at most for a worker to fetch
	// its next job.
	jobs    chan job
	workers sync.WaitGroup
	rec     *recorder
}

// job is a delivery cleared for a try, claimed at claimed.
type job struct {
	send
	claimed time.Time
}

// sendLoop is one of Options.Workers long-lived workers: it makes the tries
// the claimers hand over, one at a time, until Run closes jobs. A partner
// that hangs holds a worker at most for the timeout, and at most
// Options.PerPartner of them (the breaker's limit, taken before the
// handover).
func (r *running) sendLoop() {
	defer r.workers.Done()
	for j := range r.jobs {
		r.rec.add(r.s.attempt(r.work, j.send, j.claimed))
		r.slots.Add(-1)
		select {
		case r.done <- struct{}{}:
		default:
		}
	}
}

// reserve takes up to n free worker slots and returns how many it took.
func (r *running) reserve(n int) int {
	for {
		used := r.slots.Load()
		k := min(int64(n), int64(r.s.opts.Workers)-used)
		if k <= 0 {
			return 0
		}
		if r.slots.CompareAndSwap(used, used+k) {
			return int(k)
		}
	}
}

// claimLoop claims and starts deliveries until ctx ends; the sampler also
// updates the queue gauges every 5 s.
func (r *running) claimLoop(ctx context.Context, sampler bool) {
	s := r.s
	lastSample := time.Now()
	pause := s.opts.Poll
	for ctx.Err() == nil {
		if sampler && time.Since(lastSample) >= 5*time.Second {
			lastSample = time.Now()
			s.sample(ctx)
		}
		n := r.reserve(claimBatch)
		if n == 0 {
			select {
			case <-ctx.Done():
			case <-r.done:
			}
			continue
		}
		now := s.Now()
		ds, version, err := s.queue.claim(ctx, now, now.Add(s.opts.Lease), n)
		if err != nil {
			r.slots.Add(-int64(n))
			if ctx.Err() == nil {
				s.log.Warn("webhook queue unreachable", "error", err.Error())
			}
			s.sleep(ctx, r.done, pause)
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = s.opts.Poll
		s.secrets.observe(version)
		ready := s.prepare(r.work, ds, now, r.rec)
		r.slots.Add(int64(len(ready) - n))
		for _, j := range ready {
			r.jobs <- job{send: j, claimed: now}
		}
		if len(ds) < n {
			s.sleep(ctx, r.done, s.opts.Poll)
		}
	}
}

// sleep waits for d, a wake-up, a finished attempt or the end of ctx.
func (s *Sender) sleep(ctx context.Context, done chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.wake:
	case <-t.C:
	case <-done:
	}
}

// send is a claimed delivery cleared for a try, with its partner and what
// is wrong with the partner's URL (nil if nothing), checked once a batch.
type send struct {
	d      Delivery
	t      Target
	urlErr error
}

// prepare sorts a claimed batch at now: deliveries to partners that no
// longer exist fail, those to partners paused or disabled are parked, those
// whose partner's circuit is open or that are at their concurrency limit
// wait (which clears the claim's marks of a try under way), and the rest are
// counted and returned to be sent. Each step is one round trip for the
// whole batch.
func (s *Sender) prepare(ctx context.Context, ds []Delivery, now time.Time, rec *recorder) []send {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]string, 0, len(ds))
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		if d.Interrupted {
			s.metrics.attempts.WithLabelValues("interrupted").Inc()
			s.log.Warn("webhook attempt interrupted by a stopped instance; sending again",
				"delivery", d.ID, "partner", d.PartnerID, "attempt", d.Attempts)
		}
		if !seen[d.PartnerID] {
			seen[d.PartnerID] = true
			ids = append(ids, d.PartnerID)
		}
	}
	targets, err := s.partners.Targets(ctx, ids)
	if err != nil {
		s.log.Warn("load partners for delivery", "partners", len(ids), "error", err.Error())
		s.postpone(ctx, ds, now.Add(5*time.Second))
		return nil
	}
	var wait []redis.Z
	var out []send
	urlErrs := make(map[string]error, len(targets))
	for _, d := range ds {
		t, ok := targets[d.PartnerID]
		switch {
		case !ok:
			d.Attempts++
			a := &Attempt{DeliveryID: d.ID, Type: d.Type, Attempt: d.Attempts, At: now, Outcome: "failed", Error: "partner no longer exists"}
			rec.add(result{d: d, state: StateFailed, a: a, now: now})
			continue
		case t.State != "active":
			// Held, not failed: an admin re-enables the partner and replays.
			rec.add(result{d: d, state: StateParked, now: now})
			continue
		}
		if ok, retryAt := s.breaker.acquire(d.PartnerID, now); !ok {
			wait = append(wait, later(d.ID, retryAt))
			continue
		}
		d.Attempts++
		urlErr, checked := urlErrs[t.ID]
		if !checked {
			urlErr = s.opts.Outbound.Allow.CheckHTTPS(t.URL)
			urlErrs[t.ID] = urlErr
		}
		out = append(out, send{d: d, t: t, urlErr: urlErr})
	}
	if err := s.queue.postpone(ctx, wait...); err != nil {
		s.log.Warn("postpone deliveries", "error", err.Error())
	}
	return out
}

// postpone makes ds due at at without counting an attempt.
func (s *Sender) postpone(ctx context.Context, ds []Delivery, at time.Time) {
	zs := make([]redis.Z, len(ds))
	for i, d := range ds {
		zs[i] = later(d.ID, at)
	}
	if err := s.queue.postpone(ctx, zs...); err != nil {
		s.log.Warn("postpone deliveries", "deliveries", len(ds), "error", err.Error())
	}
}

// claimScript takes up to ARGV[3] due deliveries, pushes their due time to
// the end of a lease (if the claimer dies, they come due again then), and
// marks each as a try under way, {"attempt":N,"at":TIME}. The mark is
// stale once the delivery's attempts count that try: an outcome recorded
// with an attempt does so, and one without (a postponement, a parking)
// clears the mark. A delivery whose mark is not stale when claimed was
// being sent by an instance that stopped before it could record the
// outcome: its try is recorded in the partner's log as interrupted, and
// counted, here, once. It also returns the version of the signing secrets, so a claimer's
// cache of them is checked in the same round trip, and each event's body
// once (per type), however many of the batch's deliveries carry it.
// KEYS: due, secrets version. ARGV: now ms, lease end ms, count, delivery
// key prefix, attempt log key prefix, log length, event body key prefix,
// the claim's time as a JSON string, the interrupted try's error as a JSON
// string. Returns {secrets version, {delivery fields...}..., {event id
// ":" type, body}...}.
var claimScript = redis.NewScript(luaEach + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out, leased, gone, bodies, events = {}, {}, {}, {}, {}
for _, id in ipairs(ids) do
  local key = ARGV[4] .. id
  local h = redis.call('HMGET', key, 'partner', 'type', 'alert', 'body', 'created', 'attempts', 'state', 'replayed', 'inflight', 'event')
  local ev = h[10]
  if ev then
    -- The body's key: the event and the type (see keyEventBody).
    ev = ev .. ':' .. (h[2] or '')
  end
  if h[1] and ev and bodies[ev] == nil then
    bodies[ev] = redis.call('GET', ARGV[7] .. ev) or false
    if bodies[ev] then
      table.insert(events, {ev, bodies[ev]})
    end
  end
  if not h[1] or (ev and not bodies[ev]) then
    table.insert(gone, id)
  else
    table.insert(leased, ARGV[2])
    table.insert(leased, id)
    local interrupted = '0'
    if h[9] then
      -- The mark names the try that was under way; it is stale once an
      -- outcome counted that try. A mark in the full form of a log entry
      -- was left by an earlier version, which cleared it on every outcome.
      local n, at = string.match(h[9], '^{"attempt":(%d+),"at":(".-")}$')
      local entry
      if n then
        if tonumber(n) > tonumber(h[6] or '0') then
          entry = '{"delivery_id":' .. cjson.encode(id) .. ',"type":' .. cjson.encode(h[2] or '') ..
            ',"attempt":' .. n .. ',"at":' .. at ..
            ',"status":0,"latency_ms":0,"response":"","error":' .. ARGV[9] .. ',"outcome":"interrupted"}'
        end
      else
        entry, n = h[9], tostring(cjson.decode(h[9]).attempt)
      end
      if entry then
        local log = ARGV[5] .. h[1]
        redis.call('LPUSH', log, entry)
        redis.call('LTRIM', log, 0, tonumber(ARGV[6]) - 1)
        h[6] = n
        redis.call('HSET', key, 'attempts', n)
        interrupted = '1'
      end
    end
    redis.call('HSET', key, 'inflight', '{"attempt":' .. (tonumber(h[6] or '0') + 1) .. ',"at":' .. ARGV[8] .. '}')
    table.insert(out, {id, h[1], h[2], h[3], h[4] or '', h[5], h[6], h[7], h[8] or '0', interrupted, ev or ''})
  end
end
each('ZADD', KEYS[1], leased)
each('ZREM', KEYS[1], gone)
return {redis.call('GET', KEYS[2]) or '0', out, events}
`)

// interruptedError is what the delivery log says of a try cut off by the
// instance sending it stopping.
const interruptedError = "the instance sending it stopped before an answer came; it may have reached the endpoint, and was sent again"

// claim leases up to n due deliveries until leaseEnd and marks each as a
// try under way at now (see claimScript). It also returns the version of
// the signing secrets (see Secrets.observe).
func (q *Queue) claim(ctx context.Context, now, leaseEnd time.Time, n int) ([]Delivery, int64, error) {
	at, _ := json.Marshal(now)
	why, _ := json.Marshal(interruptedError)
	res, err := claimScript.Run(ctx, q.rdb, []string{keyDue, keySecretsVersion}, now.UnixMilli(), leaseEnd.UnixMilli(), n,
		keyDelivP, keyPrefix+"log:", KeepAttempts, keyEventP, at, why).Slice()
	if err != nil || len(res) != 3 {
		return nil, 0, fmt.Errorf("claim due deliveries: %w", cmp.Or(err, errors.New("unexpected answer")))
	}
	ver, _ := res[0].(string)
	version, _ := strconv.ParseInt(ver, 10, 64)
	evs, _ := res[2].([]any)
	bodies := make(map[string][]byte, len(evs))
	for _, e := range evs {
		if f, _ := e.([]any); len(f) == 2 {
			id, _ := f[0].(string)
			body, _ := f[1].(string)
			bodies[id] = []byte(body)
		}
	}
	rows, _ := res[1].([]any)
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		f, _ := r.([]any)
		if len(f) != 11 {
			continue
		}
		s := make([]string, len(f))
		for i, v := range f {
			s[i], _ = v.(string)
		}
		created, _ := strconv.ParseInt(s[5], 10, 64)
		attempts, _ := strconv.Atoi(s[6])
		replayed, _ := strconv.Atoi(s[8])
		body, eventID := []byte(s[4]), ""
		if s[10] != "" {
			// The body's key names the event and the type.
			body = bodies[s[10]]
			eventID = strings.TrimSuffix(s[10], ":"+s[2])
		}
		out = append(out, Delivery{ID: s[0], PartnerID: s[1], Type: s[2], AlertID: s[3], EventID: eventID, Body: body,
			CreatedAt: time.UnixMilli(created).UTC(), Attempts: attempts, State: s[7], Replayed: replayed,
			Interrupted: s[9] == "1"})
	}
	return out, version, nil
}

// postpone makes claimed deliveries due later without counting an attempt,
// and clears the claim's marks of a try under way: each z is a delivery id
// (Member) and its new due time in unix ms (Score). One round trip.
func (q *Queue) postpone(ctx context.Context, zs ...redis.Z) error {
	if len(zs) == 0 {
		return nil
	}
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, z := range zs {
			id, _ := z.Member.(string)
			p.HDel(ctx, keyDelivery(id), "inflight")
		}
		p.ZAddXX(ctx, keyDue, zs...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("postpone %d deliveries: %w", len(zs), err)
	}
	return nil
}

// later is the postponement of delivery id until at.
func later(id string, at time.Time) redis.Z {
	return redis.Z{Score: float64(at.UnixMilli()), Member: id}
}
