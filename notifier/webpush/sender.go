package webpush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
