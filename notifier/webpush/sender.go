package webpush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
	"flashwire/subscribers"
)

// Directory is the reader index as the sender sees it; subscribers.Store
// is one.
type Directory interface {
	// ShardCount is how many shards the index has.
	ShardCount() int
	// MatchPush returns the readers of a shard an alert reaches who hold a
	// push subscription (a bitmap of slots) and their subscriptions'
	// number.
	MatchPush(ctx context.Context, shard int, a flashwire.Attrs, now time.Time) ([]byte, int64, error)
	// PushSubscriptions returns the subscriptions of the readers in slots.
	PushSubscriptions(ctx context.Context, shard int, slots []int) ([]subscribers.PushTarget, error)
	// DropPush removes a subscription its push service said is gone.
	DropPush(ctx context.Context, t subscribers.PushTarget) error
}

// Options tune a Sender; zero fields take the defaults.
type Options struct {
	// Keys sign every push (VAPID); required.
	Keys Keys
	// Subject is the VAPID contact, mailto: or https:.
	Subject string
	// Outbound is the guarded client's setting: the hosts and networks
	// exempt from the address check, for development and tests only (and
	// the tests' TLS roots). Its Timeout is Timeout below; no redirect is
	// followed.
	Outbound outbound.Config
	// Timeout bounds one push (default 10 s, and at most a third of Lease).
	Timeout time.Duration
	// Workers bounds pushes in flight on this instance (default 256).
	Workers int
	// PerHost bounds one push service's pushes in flight on this instance
	// (default 64).
	PerHost int
	// Jobs is how many jobs this instance walks at once (default 8).
	Jobs int
	// Batch is how many readers a job walks per step (default 128).
	Batch int
	// Lease is how long a job an instance holds stays its own without
	// renewal (default 30 s); a dead instance's jobs go on elsewhere this
	// long after its last renewal.
	Lease time.Duration
	// Poll is the pause between looks at an idle queue (default 200 ms); a
	// local dispatch wakes the sender at once.
	Poll     time.Duration
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Stats receives per-alert figures when not nil.
	Stats *notifier.Stats
}

// Defaults of Options.
const (
	DefaultTimeout = 10 * time.Second
	DefaultWorkers = 256
	DefaultPerHost = 64
	DefaultLease   = 30 * time.Second
)

// Sender walks the queued jobs: for each it finds the readers the event
// reaches in its shard, and sends each of their subscriptions one
// encrypted push. Any number of instances may run one on the same queue.
type Sender struct {
	q       *queue
	dir     Directory
	opts    Options
	client  *http.Client
	log     *slog.Logger
	metrics *metrics
	hosts   *hosts
	wake    chan struct{}
	// workers holds a token per push in flight; taking serializes
	// takeWorkers.
	workers chan struct{}
	taking  sync.Mutex
	// token names this process's leases.
	token string
	// next is the shard the next lease starts from; owned by Run.
	next int
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewSender returns a sender over the queue in rdb.
func NewSender(rdb redis.UniversalClient, dir Directory, opts Options) *Sender {
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	opts.Timeout = min(opts.Timeout, opts.Lease/3)
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.PerHost <= 0 {
		opts.PerHost = DefaultPerHost
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 8
	}
	if opts.Batch <= 0 {
		opts.Batch = 128
	}
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	guard := opts.Outbound
	guard.Timeout, guard.Redirects = opts.Timeout, 0
	client := outbound.NewClient(guard)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Sender{
		q:       &queue{rdb: rdb},
		dir:     dir,
		opts:    opts,
		client:  client,
		log:     opts.Logger,
		metrics: newMetrics(opts.Registry),
		hosts:   newHosts(opts.PerHost, mrand.Float64),
		wake:    make(chan struct{}, 1),
		workers: make(chan struct{}, opts.Workers),
		token:   hex.EncodeToString(b),
		Now:     time.Now,
	}
}

// PublicKey is the VAPID public key browsers subscribe with.
func (s *Sender) PublicKey() string { return s.opts.Keys.Public }

// CheckEndpoint returns an error naming the field "endpoint" when pushes
// could not be sent there: not https, or an address the outbound guard
// refuses. Internal addresses behind a name are refused when dialled.
func (s *Sender) CheckEndpoint(endpoint string) error {
	allow := s.opts.Outbound.Allow
	err := allow.CheckURL(endpoint)
	switch {
	case errors.Is(err, outbound.ErrCredentials):
		return flashwire.Invalid("endpoint", "carries a user name or password, which pushes never send")
	case errors.Is(err, outbound.ErrRefusedAddress):
		return flashwire.Invalid("endpoint", "points at an internal address, which pushes may not reach")
	case err != nil || allow.CheckHTTPS(endpoint) != nil || !strings.HasPrefix(endpoint, "https://"):
		return flashwire.Invalid("endpoint", "is not an https URL pushes may be sent to")
	}
	return nil
}

// Wake makes the sender look at the queue now: the dispatcher calls it.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run walks jobs until ctx ends, then lets the jobs in hand finish the
// step they are at (each push bounded by the timeout), gives their leases
// back for another instance to go on at once, and returns: that is the
// drain at shutdown.
func (s *Sender) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	var running atomic.Int64
	done := make(chan struct{}, s.opts.Jobs)
	work := context.WithoutCancel(ctx)
	defer wg.Wait()
	shards := s.dir.ShardCount()
	var lastSample time.Time
	pause := s.opts.Poll
	for ctx.Err() == nil {
		if time.Since(lastSample) >= 5*time.Second {
			lastSample = time.Now()
			if n, err := s.q.depth(ctx, shards); err == nil {
				s.metrics.jobs.Set(float64(n))
			}
		}
		free := s.opts.Jobs - int(running.Load())
		if free <= 0 {
			select {
			case <-ctx.Done():
			case <-done:
			}
			continue
		}
		pick := make([]int, 0, min(free, shards))
		for range min(free, shards) {
			pick = append(pick, s.next)
			s.next = (s.next + 1) % shards
		}
		now := s.Now()
		jobs, err := s.q.lease(ctx, pick, now, now.Add(s.opts.Lease), s.token)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("web push queue unreachable", "error", err.Error())
			}
			s.sleep(ctx, done, pause)
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = s.opts.Poll
		for _, j := range jobs {
			running.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.walk(ctx, work, j)
				running.Add(-1)
				select {
				case done <- struct{}{}:
				default:
				}
			}()
		}
		// A full round of shards found nothing: wait.
		if len(jobs) == 0 && s.next < len(pick) {
			s.sleep(ctx, done, s.opts.Poll)
		}
	}
	return ctx.Err()
}

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

// walk does what is left of job j while this instance holds it: stop
// (the end of Run's context) ends it after the current step; a lost lease
// ends it at once.
func (s *Sender) walk(stop, work context.Context, j job) {
	ctx, cancel := context.WithCancel(work)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(s.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := s.q.renew(ctx, j, s.token, s.Now().Add(s.opts.Lease))
				if err != nil {
					s.log.Warn("renew web push lease", "error", err.Error())
				}
				if !ok {
					s.log.Warn("web push job taken over by another instance", "event", j.ID, "shard", j.Shard)
					cancel()
					return
				}
			}
		}
	}()
	defer func() { cancel(); <-renewed }()

	err := s.steps(stop, ctx, j)
	switch {
	case errors.Is(err, errStopped):
		if err := s.q.release(work, j, s.token, s.Now()); err != nil {
			s.log.Warn("give back web push job", "error", err.Error())
		}
		return
	case errors.Is(err, errLeaseLost) || ctx.Err() != nil:
		return
	case err != nil && !errors.Is(err, errCancelled) && !errors.Is(err, errExpired):
		// The lease runs out and any instance goes on with the job.
		s.log.Warn("web push job failed; it will be resumed", "event", j.ID, "shard", j.Shard, "error", err.Error())
		return
	}
	fin, err := s.q.finish(ctx, j, s.token, s.Now())
	if err != nil {
		if !errors.Is(err, errLeaseLost) {
			s.log.Warn("finish web push job", "event", j.ID, "shard", j.Shard, "error", err.Error())
		}
		return
	}
	if fin.more {
		return
	}
	t := notifier.Tally{Pending: -fin.unsettled}
	if fin.why == "expired" && fin.unsettled > 0 {
		t.Expired = fin.unsettled
		s.metrics.sends.WithLabelValues("expired", "all").Add(float64(fin.unsettled))
	}
	s.figures(ctx, j, t)
}

var errStopped = errors.New("sender stopping")

// steps walks j: first, once, every reader of the snapshot, then the
// subscriptions whose retry is due.
func (s *Sender) steps(stop, ctx context.Context, j job) error {
	if j.Leases > 1 {
		if err := s.sweep(ctx, j); err != nil {
			return err
		}
	}
	sent, err := s.sentBefore(ctx, j)
	if err != nil {
		return err
	}
	// A retraction goes only where the alert went; a correction also to
	// the readers its new targeting reaches.
	var filter func(bit int) bool
	if j.Type == string(flashwire.Retracted) {
		filter = sent
	}
	if !j.Walked {
		slots, err := s.snapshot(ctx, j, sent)
		if err != nil {
			return err
		}
		for len(slots) > 0 {
			if stop.Err() != nil {
				return errStopped
			}
			n := min(s.opts.Batch, len(slots))
			targets, err := s.dir.PushSubscriptions(ctx, j.Shard, slots[:n])
			if err != nil {
				return err
			}
			if err := s.send(ctx, j, keep(targets, filter)); err != nil {
				return err
			}
			slots = slots[n:]
		}
	}
	for {
		if stop.Err() != nil {
			return errStopped
		}
		due, err := s.q.due(ctx, j, s.Now(), s.opts.Batch*2)
		if err != nil || len(due) == 0 {
			return err
		}
		targets, err := s.dir.PushSubscriptions(ctx, j.Shard, slotsOf(due))
		if err != nil {
			return err
		}
		want := map[int]bool{}
		for _, b := range due {
			want[b] = true
		}
		if err := s.send(ctx, j, keep(targets, func(bit int) bool { return want[bit] })); err != nil {
			return err
		}
	}
}

// sentBefore returns, for a correction or retraction, which subscriptions
// of the shard the alert itself was sent to (nil for a new alert).
func (s *Sender) sentBefore(ctx context.Context, j job) (func(bit int) bool, error) {
	if j.Type == string(flashwire.Published) {
		return nil, nil
	}
	claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.AlertID))
	if err != nil {
		return nil, err
	}
	return func(bit int) bool { return bitSet(claimed, bit) }, nil
}

// snapshot returns the slots j walks, storing them on the first lease so
// every holder walks the same: the readers a new alert or a correction
// reaches now (at the event's time), and for a correction or retraction
// the readers the alert was sent to.
func (s *Sender) snapshot(ctx context.Context, j job, sent func(int) bool) ([]int, error) {
	if j.Snapped {
		bitmap, err := s.q.bitmap(ctx, keyMatch(j.Shard, j.ID))
		return subscribers.Slots(bitmap), err
	}
	var bitmap []byte
	var subs int64
	if j.Type != string(flashwire.Retracted) {
		var a flashwire.Alert
		if err := json.Unmarshal(j.Alert, &a); err != nil {
			return nil, fmt.Errorf("decode alert of web push job %s: %w", j.ID, err)
		}
		var err error
		if bitmap, subs, err = s.dir.MatchPush(ctx, j.Shard, a.Attrs(), j.Created); err != nil {
			return nil, err
		}
	}
	if sent != nil {
		claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.AlertID))
		if err != nil {
			return nil, err
		}
		bitmap, subs = withSent(bitmap, subs, claimed)
	}
	stored, subs, err := s.q.snap(ctx, j, s.token, bitmap, subs)
	if err != nil {
		return nil, err
	}
	if stored {
		s.figures(ctx, j, notifier.Tally{Pending: subs})
	} else if bitmap, err = s.q.bitmap(ctx, keyMatch(j.Shard, j.ID)); err != nil {
		return nil, err
	}
	return subscribers.Slots(bitmap), nil
}

// withSent adds to a bitmap of slots the slots of the subscriptions set in
// claimed (a bitmap of subscription bits), counting those subscriptions
// once: a correction reaches everyone the alert reached.
func withSent(slots []byte, subs int64, claimed []byte) ([]byte, int64) {
	for _, bit := range subscribers.Slots(claimed) {
		slot := bit / subscribers.MaxPushPerReader
		if !bitSet(slots, slot) {
			for len(slots) <= slot/8 {
				slots = append(slots, 0)
			}
			slots[slot/8] |= 0x80 >> (slot % 8)
			subs += int64(bits.OnesCount8(onesOfSlot(claimed, slot)))
		}
	}
	return slots, subs
}

// onesOfSlot returns the claimed bits of one reader's subscriptions as a
// byte (MaxPushPerReader is 8: one byte per reader).
func onesOfSlot(claimed []byte, slot int) byte {
	if slot < len(claimed) {
		return claimed[slot]
	}
	return 0
}

// bitSet reports whether bit n of a Redis bitmap is set.
func bitSet(bitmap []byte, n int) bool {
	return n/8 < len(bitmap) && bitmap[n/8]&(0x80>>(n%8)) != 0
}

func slotsOf(bitsList []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, b := range bitsList {
		if slot := b / subscribers.MaxPushPerReader; !seen[slot] {
			seen[slot] = true
			out = append(out, slot)
		}
	}
	return out
}

func keep(ts []subscribers.PushTarget, ok func(bit int) bool) []subscribers.PushTarget {
	if ok == nil {
		return ts
	}
	out := ts[:0]
	for _, t := range ts {
		if ok(t.Bit) {
			out = append(out, t)
		}
	}
	return out
}

// sweep counts as failed the subscriptions an earlier holder of j claimed
// and never settled: it died, or lost the job, between claiming and
// recording. Whether the push went out is unknown; sending again could
// show it twice, so it is not sent again, and the figures say so.
func (s *Sender) sweep(ctx context.Context, j job) error {
	claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.ID))
	if err != nil || len(claimed) == 0 {
		return err
	}
	done, err := s.q.bitmap(ctx, keyDone(j.Shard, j.ID))
	if err != nil {
		return err
	}
	var lost []outcome
	for i, c := range claimed {
		var d byte
		if i < len(done) {
			d = done[i]
		}
		for b := c &^ d; b != 0; {
			n := bits.LeadingZeros8(b)
			lost = append(lost, outcome{bit: i*8 + n, what: outFailed})
			b &^= 0x80 >> n
		}
	}
	if len(lost) == 0 {
		return nil
	}
	counted, err := s.q.record(ctx, j, s.token, lost, nil)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range counted {
		if c {
			n++
		}
	}
	if n > 0 {
		s.figures(ctx, j, notifier.Tally{Failed: int64(n), Pending: -int64(n)})
		s.metrics.sends.WithLabelValues("interrupted", "all").Add(float64(n))
		s.log.Warn("web push interrupted: an instance stopped between claiming and recording; counted as failed, not sent again",
			"event", j.ID, "shard", j.Shard, "subscriptions", n)
	}
	return nil
}

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

type metrics struct {
	sends    *prometheus.CounterVec
	duration prometheus.Histogram
	latency  prometheus.Histogram
	jobs     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashwire_webpush_sends_total",
			Help: "Web Push messages by outcome (reached, removed, failed, retry, expired, interrupted) and push service host.",
		}, []string{"outcome", "host"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webpush_send_duration_seconds",
			Help:    "Time from encrypting a push to the push service's answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flashwire_webpush_delivery_latency_seconds",
			Help:    "Time from an alert event to the push service accepting its message, retries included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600},
		}),
		jobs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashwire_webpush_jobs",
			Help: "Web Push jobs (one per alert event and reader shard) waiting, running or waiting for retries.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sends, m.duration, m.latency, m.jobs} {
			if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
				panic(err)
			}
		}
	}
	return m
}
