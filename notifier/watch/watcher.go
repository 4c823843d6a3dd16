package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"flashwire"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
)

// ErrLeased means another instance polls the source now.
var ErrLeased = flashwire.NewError(flashwire.ErrConflict, "another instance is polling this source")

// publisher is what the watcher needs of notifier.Service. Stories go out
// through Publish under their once key, so the newsroom's guards apply to
// them and a story is never published twice. A claim whose instance died is
// settled by asking what the story's once key published (PublishedOnce),
// without publishing anything; Alert reads an alert's current state.
type publisher interface {
	Check(ctx context.Context, a *flashwire.Alert) error
	Publish(ctx context.Context, a flashwire.Alert, opts notifier.PublishOptions) (flashwire.Alert, bool, error)
	PublishedOnce(ctx context.Context, once string) (flashwire.Alert, bool, error)
	Alert(ctx context.Context, id string) (flashwire.Alert, error)
	Update(ctx context.Context, id string, a flashwire.Alert) (flashwire.Alert, error)
	Retract(ctx context.Context, id string) (flashwire.Alert, error)
}

// Config is what a Watcher needs. Zero durations take the defaults.
type Config struct {
	Redis    redis.UniversalClient
	Alerts   publisher
	Taxonomy notifier.Taxonomy
	Logger   *slog.Logger
	// Outbound is the guarded client's setting: the hosts and networks
	// exempt from the address check, for development and tests only. Its
	// Timeout is FetchTimeout; at most 3 redirects are followed.
	Outbound outbound.Config
	// FetchTimeout bounds one fetch. Default 15s.
	FetchTimeout time.Duration
	// MaxBytes caps a feed's size. Default 5 MiB.
	MaxBytes int64
	// LeaseTTL is how long a poller's lease lasts unrenewed: how soon
	// another instance takes over a source when its poller dies. It is
	// renewed every third of it. It is also how long a story's claim lasts:
	// a story still "pending" (or an editor's send still "sending", a
	// retraction still "retracting", an update still "updating") that long
	// after its claim is taken up again. Default 30s.
	LeaseTTL time.Duration
	// Backoff is the wait after a source's first error; it doubles with
	// each further error, up to 30 minutes. Default 30s.
	Backoff time.Duration
	// Instance names this instance in leases; default random.
	Instance string
	// Version goes into the User-Agent the newsrooms' servers see,
	// "Flashwire/VERSION (breaking-news feed watcher)" (default "dev").
	Version string
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Registry receives the watcher's metrics (flashwire_watch_*); nil
	// keeps them unregistered.
	Registry prometheus.Registerer
}

// storyTTL is how long a story's record is kept: far longer than any feed
// keeps an item, and an item seen again after that is too old to push.
const storyTTL = 14 * 24 * time.Hour

// Watcher polls the sources on their schedules and pushes their breaking
// stories. Every instance runs one; a lease per source makes one instance
// poll it at a time.
type Watcher struct {
	cfg    Config
	store  sourceStore
	client *http.Client
	cron   *cron.Cron
	// metrics are safe for concurrent use.
	metrics *metrics

	// ctx ends when the watcher stops; polls run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex // guards the maps below
	// entries are the scheduled sources by id.
	entries map[string]entry
	// leases are the sources whose lease this instance holds.
	leases map[string]bool
	// polling are the sources being polled now on this instance.
	polling map[string]bool
}

type entry struct {
	id      cron.EntryID
	version time.Time
	sched   string
}

// New returns a Watcher; Start runs it.
func New(cfg Config) *Watcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = 15 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 30 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Instance == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		cfg.Instance = hex.EncodeToString(b)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := newClient(cfg.Outbound, cfg.FetchTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{
		cfg:     cfg,
		store:   sourceStore{rdb: cfg.Redis},
		client:  client,
		cron:    cron.New(cron.WithParser(scheduleParser), cron.WithLocation(time.UTC)),
		ctx:     ctx,
		cancel:  cancel,
		entries: map[string]entry{},
		leases:  map[string]bool{},
		polling: map[string]bool{},
	}
	w.metrics = newMetrics(cfg.Registry, func() float64 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return float64(len(w.leases))
	}, w.failingSources)
	return w
}

// Start schedules every source and keeps the schedules in step with the
// sources in Redis, whichever instance changes them.
func (w *Watcher) Start(ctx context.Context) error {
	if err := w.reload(ctx); err != nil {
		return err
	}
	w.cron.Start()
	sub := w.cfg.Redis.Subscribe(w.ctx, chanChange)
	w.wg.Add(2)
	go w.listen(sub)
	go w.keepLeases()
	return nil
}

// Stop ends scheduling, lets polls in flight finish until ctx ends (then
// cuts them short), and hands back this instance's leases so another
// instance takes over at once.
func (w *Watcher) Stop(ctx context.Context) {
	cronDone := w.cron.Stop()
	select {
	case <-cronDone.Done():
	case <-ctx.Done():
	}
	w.cancel()
	<-cronDone.Done() // polls end quickly once their context is canceled
	w.wg.Wait()
	w.mu.Lock()
	ids := make([]string, 0, len(w.leases))
	for id := range w.leases {
		ids = append(ids, id)
	}
	w.leases = map[string]bool{}
	w.mu.Unlock()
	for _, id := range ids {
		releaseScript.Run(ctx, w.cfg.Redis, []string{keyLease + id}, w.cfg.Instance)
	}
}

// listen reloads the sources whenever any instance changes one.
func (w *Watcher) listen(sub *redis.PubSub) {
	defer w.wg.Done()
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-w.ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			if err := w.reload(w.ctx); err != nil && w.ctx.Err() == nil {
				w.cfg.Logger.Warn("watch: reload sources", "error", err.Error())
			}
		}
	}
}

// reload brings the cron entries in step with the stored sources.
func (w *Watcher) reload(ctx context.Context) error {
	sources, err := w.store.all(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := make(map[string]bool, len(sources))
	for _, src := range sources {
		seen[src.ID] = true
		if e, ok := w.entries[src.ID]; ok && e.version.Equal(src.UpdatedAt) && e.sched == src.Schedule {
			continue
		}
		if e, ok := w.entries[src.ID]; ok {
			w.cron.Remove(e.id)
		}
		sched, err := ParseSchedule(src.Schedule)
		if err != nil {
			w.cfg.Logger.Warn("watch: bad schedule", "source", src.ID, "error", err.Error())
			delete(w.entries, src.ID)
			continue
		}
		id := src.ID
		eid := w.cron.Schedule(sched, cron.FuncJob(func() { w.tick(id) }))
		w.entries[src.ID] = entry{id: eid, version: src.UpdatedAt, sched: src.Schedule}
	}
	for id, e := range w.entries {
		if !seen[id] {
			w.cron.Remove(e.id)
			delete(w.entries, id)
		}
	}
	return nil
}

// tick is one scheduled poll of a source: skipped while it backs off, while
// a poll of it still runs here, or when another instance holds its lease.
func (w *Watcher) tick(id string) {
	if w.ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	if w.polling[id] {
		w.mu.Unlock()
		return
	}
	w.polling[id] = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.polling, id)
		w.mu.Unlock()
	}()
	st, err := w.store.state(w.ctx, id)
	if err == nil && w.cfg.Now().Before(st.BackoffUntil) {
		return
	}
	err = w.RunOnce(w.ctx, id)
	if errors.Is(err, ErrLeased) {
		return
	}
	if err != nil && w.ctx.Err() == nil {
		w.cfg.Logger.Info("watch: poll failed", "source", id, "error", err.Error())
	}
	if next := w.nextTick(id); !next.IsZero() {
		w.cfg.Redis.HSet(w.ctx, keyState+id, "next_run", millis(next))
	}
}

// nextTick is when this instance's schedule of a source fires next; zero
// when it has none. Called from a tick, it is the tick after it: the cron
// runner moves an entry on before it answers.
func (w *Watcher) nextTick(id string) time.Time {
	w.mu.Lock()
	e, ok := w.entries[id]
	w.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	return w.cron.Entry(e.id).Next
}
