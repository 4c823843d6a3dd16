package watch

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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

// keepLeases renews this instance's leases and, as a safety net for a
// missed change message, reloads the sources.
func (w *Watcher) keepLeases() {
	defer w.wg.Done()
	t := time.NewTicker(w.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.leases))
		for id := range w.leases {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		for _, id := range ids {
			ok, err := renewScript.Run(w.ctx, w.cfg.Redis, []string{keyLease + id}, w.cfg.Instance, w.cfg.LeaseTTL.Milliseconds()).Bool()
			if err != nil || !ok {
				w.mu.Lock()
				delete(w.leases, id)
				w.mu.Unlock()
			}
		}
		if err := w.reload(w.ctx); err != nil && w.ctx.Err() == nil {
			w.cfg.Logger.Warn("watch: reload sources", "error", err.Error())
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
	if err := w.RunOnce(w.ctx, id); err != nil && !errors.Is(err, ErrLeased) && w.ctx.Err() == nil {
		w.cfg.Logger.Info("watch: poll failed", "source", id, "error", err.Error())
	}
}

// RunOnce polls one source now, if this instance holds or can take its
// lease (ErrLeased otherwise). Its error is also recorded on the source.
func (w *Watcher) RunOnce(ctx context.Context, id string) error {
	src, err := w.store.get(ctx, id)
	if err != nil {
		return err
	}
	ok, err := acquireScript.Run(ctx, w.cfg.Redis, []string{keyLease + id}, w.cfg.Instance, w.cfg.LeaseTTL.Milliseconds()).Bool()
	if err != nil {
		return fmt.Errorf("lease of source %s: %w", id, err)
	}
	if !ok {
		w.mu.Lock()
		delete(w.leases, id)
		w.mu.Unlock()
		w.metrics.polls.WithLabelValues(pollLeased).Inc()
		return ErrLeased
	}
	w.mu.Lock()
	w.leases[id] = true
	w.mu.Unlock()
	return w.poll(ctx, src)
}

// Lease scripts: a lease is the holder's instance id with an expiry.
var (
	acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// poll fetches a source once and handles each of its stories.
func (w *Watcher) poll(ctx context.Context, src Source) error {
	st, err := w.store.state(ctx, src.ID)
	if err != nil {
		return err
	}
	firstPoll := st.LastSuccess.IsZero()
	got, err := w.fetch(ctx, src, st)
	if err == nil && got.notModified {
		w.store.recordSuccess(ctx, src.ID, w.cfg.Now(), "", "", 0, false)
		w.metrics.polls.WithLabelValues(pollNotModified).Inc()
		return nil
	}
	var stories []Story
	if err == nil {
		stories, err = Parse(got.body, src.Format)
	}
	if err != nil {
		w.metrics.polls.WithLabelValues(pollFailed).Inc()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := w.store.recordError(ctx, src.ID, w.cfg.Now(), err.Error(), w.cfg.Backoff)
		w.cfg.Logger.Warn("watch: source failed", "source", src.ID, "url", src.URL, "error", err.Error(), "backoff", wait.String())
		return fmt.Errorf("poll source %s: %w", src.ID, err)
	}
	w.store.recordSuccess(ctx, src.ID, w.cfg.Now(), got.etag, got.lastModified, len(stories), true)
	w.metrics.items.Add(float64(len(stories)))
	var problems []string
	for _, s := range stories {
		if err := w.handle(ctx, src, s, firstPoll); err != nil {
			problems = append(problems, err.Error())
			w.cfg.Logger.Warn("watch: story not pushed", "source", src.ID, "story", s.ID, "error", err.Error())
		}
	}
	if len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		w.cfg.Redis.HSet(ctx, keyState+src.ID, "last_error", clip(msg, 1000), "last_error_at", millis(w.cfg.Now()))
		w.metrics.polls.WithLabelValues(pollStoryFailed).Inc()
		return fmt.Errorf("poll source %s: %s", src.ID, msg)
	}
	w.metrics.polls.WithLabelValues(pollOK).Inc()
	return nil
}

// The states of a story record.
const (
	statePending    = "pending"    // claimed; being published (taken over once stale)
	statePushed     = "pushed"     // published; "alert" holds its id
	stateHeld       = "held"       // waiting for an editor
	stateSending    = "sending"    // an editor's send is being published (taken over once stale)
	stateDismissed  = "dismissed"  // an editor dismissed it
	stateOld        = "old"        // too old when first seen; never pushed
	stateCanceled   = "canceled"   // canceled before it was pushed
	stateRetracting = "retracting" // being retracted (taken over once stale)
	stateRetracted  = "retracted"  // pushed, then retracted
	// stateUpdating: a new version ("draft") is being sent as an update;
	// "headline" is still the last one sent (taken over once stale).
	stateUpdating = "updating"
	// stateUnretracted: its retraction failed maxRetractAttempts times and
	// is no longer tried; "error" says why, and every poll that lists the
	// story reports it on the source until the alert is retracted.
	stateUnretracted = "unretracted"
)

// maxRetractAttempts bounds the retries of a retraction that keeps failing,
// so a broken one ends in a reported error rather than a silent loop.
const maxRetractAttempts = 5

// maxUpdateAttempts bounds the retries of an update that keeps failing, for
// the same reason.
const maxUpdateAttempts = 5

// storyHash names a story's record. An identity that is not a URI is
// scoped to its source.
func storyHash(sourceID, identity string) string {
	if !strings.Contains(identity, ":") {
		identity = sourceID + "|" + identity
	}
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:16])
}

// onceKey is the once key a story is published under (notifier.
// PublishOptions.Once): whichever instance, poll or editor publishes it,
// and however often after a crash, it goes out once.
func onceKey(hash string) string { return "watch:story:" + hash }

// claimScript creates a story's record unless it exists: the one atomic
// decision that gives a story to one instance at a time. "changed" is when
// the state last changed: a "pending", "sending", "retracting" or
// "updating" state older than the claim's lease belongs to an instance that
// died.
// KEYS: story record, held set. ARGV: state, source id, identity, headline,
// draft alert JSON, now ms, TTL s, story hash.
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'source', ARGV[2], 'story', ARGV[3], 'headline', ARGV[4], 'draft', ARGV[5], 'first_seen', ARGV[6], 'changed', ARGV[6])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
if ARGV[1] == 'held' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[8]) end
return 1`)

// moveScript changes a story's state from one to another, only if it is
// in the first (and, when given, still has the expected headline), and
// keeps the held set in step. It returns the state found and whether it
// moved.
// KEYS: story record, held set. ARGV: from, to, story hash, expected
// headline or "", new headline or "", now ms, draft JSON or "".
var moveScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'', 0} end
if st ~= ARGV[1] then return {st, 0} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'headline') ~= ARGV[4] then return {st, 0} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'changed', ARGV[6])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'headline', ARGV[5]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'draft', ARGV[7]) end
if ARGV[1] == 'held' and ARGV[2] ~= 'held' then redis.call('ZREM', KEYS[2], ARGV[3]) end
if ARGV[2] == 'held' and ARGV[1] ~= 'held' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3]) end
return {st, 1}`)

// reclaimScript takes over a story stuck in a claimed state (ARGV[1]) since
// before ARGV[2] ms: the claim becomes the caller's, from ARGV[3] ms on. It
// returns 1 when this caller took it over.
// KEYS: story record. ARGV: state, stale before ms, now ms.
var reclaimScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
local changed = tonumber(redis.call('HGET', KEYS[1], 'changed') or '0') or 0
if changed > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'changed', ARGV[3])
return 1`)

// reclaim runs reclaimScript.
func (w *Watcher) reclaim(ctx context.Context, hash, state string) (bool, error) {
	now := w.cfg.Now()
	ok, err := reclaimScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash},
		state, millis(now.Add(-w.cfg.LeaseTTL)), millis(now)).Bool()
	if err != nil {
		return false, fmt.Errorf("story %s: %w", hash, err)
	}
	return ok, nil
}

// move runs moveScript; found is the state before ("" when no record).
func (w *Watcher) move(ctx context.Context, hash, from, to, wantHeadline, newHeadline, draft string) (found string, moved bool, err error) {
	res, err := moveScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash, keyHeld},
		from, to, hash, wantHeadline, newHeadline, millis(w.cfg.Now()), draft).Slice()
	if err != nil {
		return "", false, fmt.Errorf("story %s: %w", hash, err)
	}
	found, _ = res[0].(string)
	n, _ := res[1].(int64)
	return found, n == 1, nil
}

// handle decides what becomes of one story of a poll.
func (w *Watcher) handle(ctx context.Context, src Source, s Story, firstPoll bool) error {
	now := w.cfg.Now()
	hash := storyHash(src.ID, s.ID)
	key := keyStory + hash
	rec, err := w.cfg.Redis.HMGet(ctx, key, "state", "alert", "headline", "error", "unsent").Result()
	if err != nil {
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	state, _ := rec[0].(string)
	alertID, _ := rec[1].(string)
	headline, _ := rec[2].(string)
	a := w.alert(src, s)
	switch state {
	case statePending, stateSending:
		// Before the feed's status: a claim may hide an alert that a
		// cancellation must retract.
		return w.takeOver(ctx, src, s, hash, state, a)
	case stateRetracting:
		// The agency killed the story once: whatever the feed says now,
		// a retraction begun is finished.
		took, err := w.reclaim(ctx, hash, stateRetracting)
		if err != nil || !took {
			return err
		}
		return w.retract(ctx, src, s, hash)
	case stateUpdating:
		took, err := w.reclaim(ctx, hash, stateUpdating)
		if err != nil || !took {
			return err
		}
		return w.resumeUpdate(ctx, src, s, hash, alertID, a)
	case stateUnretracted:
		problem, _ := rec[3].(string)
		return w.unretracted(ctx, s, hash, alertID, problem)
	}
	switch s.Status {
	case StatusCanceled:
		return w.cancelStory(ctx, src, s, hash)
	case StatusWithheld:
		// Not to be used until further notice: a later usable version may
		// still be pushed.
		return nil
	}
	if state != "" {
		if a.Headline == headline || a.Headline == "" {
			return nil
		}
		switch state {
		case statePushed:
			problem, _ := rec[3].(string)
			if unsent, _ := rec[4].(string); problem != "" && a.Headline == unsent {
				return w.unupdated(ctx, hash, alertID, a.Headline, problem)
			}
			return w.updateStory(ctx, s, hash, alertID, headline, a)
		case stateHeld:
			_, _, err := w.move(ctx, hash, stateHeld, stateHeld, headline, a.Headline, draftJSON(a))
			return err
		}
		return nil
	}
	if !src.Breaking.Breaking(s) {
		return nil
	}
	if !s.Embargo.IsZero() && now.Before(s.Embargo) {
		// Looked at again on every poll; pushed on the first after it ends.
		return nil
	}
	initial := statePending
	if t := s.effectiveTime(); (t.IsZero() && firstPoll) || (!t.IsZero() && now.Sub(t) > src.maxAge()) {
		// Undated items on a source's first poll count as old too: adding
		// a source must not flood readers with its back catalogue.
		initial = stateOld
	} else if src.Mode == ModeHold {
		initial = stateHeld
	}
	ok, err := claimScript.Run(ctx, w.cfg.Redis, []string{key, keyHeld},
		initial, src.ID, s.ID, a.Headline, draftJSON(a), millis(now), int64(storyTTL/time.Second), hash).Bool()
	if err != nil {
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	if ok && initial == stateHeld {
		w.metrics.held.WithLabelValues(heldMode).Inc()
	}
	if !ok || initial != statePending {
		return nil
	}
	return w.publish(ctx, src, s, hash, a)
}

// takeOver settles a story still claimed ("pending", or "sending" for an
// editor's send) once the claim's lease has passed: the instance that
// claimed it died, before or after publishing. Only the instance that takes
// the claim over goes on. It then asks the alert log what the story's once
// key published: an alert found becomes the story's (adopt), and the feed's
// current version applies to it. With none found, a canceled story is
// marked so it is never pushed, an editor's send goes back to the held
// queue, a withheld story keeps its claim for a later usable version, and
// a usable one is published again under the same once key.
func (w *Watcher) takeOver(ctx context.Context, src Source, s Story, hash, state string, a flashwire.Alert) error {
	took, err := w.reclaim(ctx, hash, state)
	if err != nil || !took {
		return err
	}
	key := keyStory + hash
	prev, found, err := w.cfg.Alerts.PublishedOnce(ctx, onceKey(hash))
	if err != nil {
		// Stale again at once, so the next poll retries.
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	if found {
		return w.adopt(ctx, src, s, hash, prev.ID, a)
	}
	switch {
	case s.Status == StatusCanceled:
		_, _, err := w.move(ctx, hash, state, stateCanceled, "", "", "")
		return err
	case state == stateSending:
		_, moved, err := w.move(ctx, hash, stateSending, stateHeld, "", "", "")
		if moved {
			w.metrics.held.WithLabelValues(heldStale).Inc()
		}
		return err
	case s.Status == StatusWithheld:
		w.cfg.Redis.HSet(ctx, key, "changed", "0")
		return nil
	}
	return w.publish(ctx, src, s, hash, a)
}

// adopt records the alert a dead instance published under the story's once
// key as the story's, with the headline it carries now, then brings it in
// line with the feed: a canceled story is retracted, a new headline sent as
// an update. The alert counts as the dead instance's, not this one's.
func (w *Watcher) adopt(ctx context.Context, src Source, s Story, hash, alertID string, a flashwire.Alert) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	switch {
	case errors.Is(err, flashwire.ErrNotFound):
		// Its state expired: only the id is known, and nothing can reach it.
		cur = flashwire.Alert{ID: alertID, Headline: a.Headline}
	case err != nil:
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	state := statePushed
	if cur.Retracted {
		state = stateRetracted
	}
	err = w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "state", state, "alert", alertID, "headline", cur.Headline, "changed", millis(w.cfg.Now())).Err()
	if err != nil {
		// The claim goes stale again and the next poll after it retries.
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	w.cfg.Logger.Info("watch: alert of a dead claim found", "source", src.ID, "story", s.ID, "alert_id", alertID)
	switch {
	case state == stateRetracted || s.Status == StatusWithheld:
		return nil
	case s.Status == StatusCanceled:
		return w.cancelStory(ctx, src, s, hash)
	case a.Headline == "" || a.Headline == cur.Headline:
		return nil
	}
	return w.updateStory(ctx, s, hash, alertID, cur.Headline, a)
}

// publish sends a story this instance claimed in auto mode, behind the
// newsroom's guards: a duplicate of an alert already sent is recorded as
// that alert, so the story's updates and retraction reach it; a non-flash
// story within the minimum gap goes to the held queue for an editor.
func (w *Watcher) publish(ctx context.Context, src Source, s Story, hash string, a flashwire.Alert) error {
	key := keyStory + hash
	pub, repeat, err := w.cfg.Alerts.Publish(ctx, a, notifier.PublishOptions{Once: onceKey(hash)})
	var dup *notifier.DuplicateError
	var soon *notifier.TooSoonError
	switch {
	case errors.As(err, &dup) && dup.Existing.ID != "":
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "state", statePushed, "alert", dup.Existing.ID, "headline", a.Headline, "changed", millis(w.cfg.Now()))
		w.cfg.Logger.Info("watch: story already sent", "source", src.ID, "story", s.ID, "alert_id", dup.Existing.ID)
		return nil
	case errors.As(err, &soon):
		reason := fmt.Sprintf("held: the minimum gap between non-flash alerts had not passed (%s left)", soon.RetryAfter.Round(time.Second))
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "reason", reason)
		_, moved, merr := w.move(context.WithoutCancel(ctx), hash, statePending, stateHeld, "", a.Headline, draftJSON(a))
		if merr != nil {
			return merr
		}
		if moved {
			w.metrics.held.WithLabelValues(heldTooSoon).Inc()
			w.cfg.Logger.Info("watch: story held, too soon", "source", src.ID, "story", s.ID, "retry_after", soon.RetryAfter.String())
		}
		return nil
	case errors.As(err, &dup):
		// The same story is being published right now, perhaps by a
		// stalled instance under this very claim: look again once the
		// claim's lease ends.
		return nil
	case err != nil:
		// Mark the claim stale so the next poll tries again; the once key
		// keeps a publish that went through unseen from going twice.
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "changed", "0")
		return fmt.Errorf("publish %q: %w", a.Headline, err)
	}
	// The headline that went out, so a later poll sends an update when the
	// feed's differs (a repeat may be an earlier version's).
	sent := pub.Headline
	if sent == "" {
		sent = a.Headline
	}
	w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "state", statePushed, "alert", pub.ID, "headline", sent, "changed", millis(w.cfg.Now()))
	if repeat {
		w.cfg.Logger.Info("watch: alert found already published", "source", src.ID, "story", s.ID, "alert_id", pub.ID)
		return nil
	}
	w.store.countAlert(ctx, src.ID)
	w.metrics.alerts.Inc()
	w.cfg.Logger.Info("watch: alert published", "source", src.ID, "story", s.ID, "alert_id", pub.ID, "priority", pub.Priority)
	return nil
}

// updateStory sends a changed headline of a pushed story as an update.
// Only the instance that moves the record from "pushed" (with the headline
// it read) to "updating" sends it; the record keeps the last headline sent
// until the update went through, so an instance dying in between leaves a
// stale "updating" record that a later poll takes over.
func (w *Watcher) updateStory(ctx context.Context, s Story, hash, alertID, oldHeadline string, a flashwire.Alert) error {
	_, moved, err := w.move(ctx, hash, statePushed, stateUpdating, oldHeadline, "", draftJSON(a))
	if err != nil || !moved {
		return err
	}
	return w.sendUpdate(ctx, s, hash, alertID, a)
}

// resumeUpdate finishes an update whose instance died, once this instance
// has taken the stale "updating" record over. A canceled story is
// retracted instead; otherwise the feed's current version is sent, or the
// recorded one when the feed's cannot be (withheld now, or no headline): an
// update begun is finished.
func (w *Watcher) resumeUpdate(ctx context.Context, src Source, s Story, hash, alertID string, a flashwire.Alert) error {
	if s.Status == StatusCanceled {
		_, moved, err := w.move(ctx, hash, stateUpdating, stateRetracting, "", "", "")
		if err != nil || !moved {
			return err
		}
		return w.retract(ctx, src, s, hash)
	}
	if s.Status == StatusWithheld || a.Headline == "" {
		draft, err := w.cfg.Redis.HGet(ctx, keyStory+hash, "draft").Result()
		if err == nil {
			err = json.Unmarshal([]byte(draft), &a)
		}
		if err != nil {
			w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "changed", "0")
			return fmt.Errorf("story %s: %w", s.ID, err)
		}
	}
	return w.sendUpdate(ctx, s, hash, alertID, a)
}

// sendUpdate sends a as the update of the story's alert, the record being
// "updating" and this instance's. It first reads the alert's current
// headline: one that is already a's means the instance before got that far
// and died before recording it, so an update goes out once. Once it went
// through the record is "pushed" with a's headline. A failure leaves the
// record "updating" and stale at once, so the next poll retries; after
// maxUpdateAttempts (a crash counts as one) the record goes back to
// "pushed" with the last headline sent, "unsent" and "error" say which
// headline did not go out and why, and every poll that lists the story with
// that headline reports it on the source, until the feed's headline changes
// or the alert carries it.
func (w *Watcher) sendUpdate(ctx context.Context, s Story, hash, alertID string, a flashwire.Alert) error {
	key := keyStory + hash
	bg := context.WithoutCancel(ctx)
	// Counted before the call, so that an instance dying in it spends an
	// attempt too.
	n, err := w.cfg.Redis.HIncrBy(ctx, key, "update_attempts", 1).Result()
	if err != nil {
		w.cfg.Redis.HSet(bg, key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	switch {
	case errors.Is(err, flashwire.ErrNotFound):
		// Its state expired: nothing can reach it any more.
		return w.updated(bg, hash, a.Headline)
	case err == nil && cur.Retracted:
		_, _, err = w.move(bg, hash, stateUpdating, stateRetracted, "", "", "")
		return err
	case err == nil && cur.Headline == a.Headline:
		w.cfg.Logger.Info("watch: alert found already updated", "story", s.ID, "alert_id", alertID, "headline", a.Headline)
		return w.updated(bg, hash, a.Headline)
	case err == nil:
		_, err = w.cfg.Alerts.Update(ctx, alertID, a)
		if errors.Is(err, notifier.ErrRetracted) {
			_, _, err = w.move(bg, hash, stateUpdating, stateRetracted, "", "", "")
			return err
		}
		if err == nil {
			w.cfg.Logger.Info("watch: alert updated", "story", s.ID, "alert_id", alertID, "headline", a.Headline)
			return w.updated(bg, hash, a.Headline)
		}
	}
	if n >= maxUpdateAttempts {
		problem := clip(fmt.Sprintf("alert %s of story %s not updated to %q, gave up after %d attempts: %v", alertID, s.ID, a.Headline, n, err), 500)
		w.cfg.Redis.HSet(bg, key, "error", problem, "unsent", a.Headline)
		w.cfg.Redis.HDel(bg, key, "update_attempts")
		_, _, _ = w.move(bg, hash, stateUpdating, statePushed, "", "", "")
		w.cfg.Logger.Error("watch: update given up", "story", s.ID, "alert_id", alertID, "attempts", n, "error", err.Error())
		return errors.New(problem)
	}
	w.cfg.Redis.HSet(bg, key, "changed", "0", "error", clip(err.Error(), 500))
	return fmt.Errorf("update alert %s (attempt %d of %d): %w", alertID, n, maxUpdateAttempts, err)
}

// updated records headline as sent to the story's alert.
func (w *Watcher) updated(ctx context.Context, hash, headline string) error {
	_, moved, err := w.move(ctx, hash, stateUpdating, statePushed, "", headline, "")
	if err != nil || !moved {
		// Still "updating" after an error: the poll after the lease finds
		// the alert carrying the headline and records it.
		return err
	}
	return w.cfg.Redis.HDel(ctx, keyStory+hash, "update_attempts", "error", "unsent").Err()
}

// unupdated reports a story whose update to headline was given up, unless
// its alert carries that headline since (an editor's correction): then the
// record catches up and the source's error clears.
func (w *Watcher) unupdated(ctx context.Context, hash, alertID, headline, problem string) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	if err == nil && cur.Headline == headline {
		if err := w.cfg.Redis.HSet(ctx, keyStory+hash, "headline", headline).Err(); err != nil {
			return fmt.Errorf("story %s: %w", hash, err)
		}
		return w.cfg.Redis.HDel(ctx, keyStory+hash, "error", "unsent").Err()
	}
	return errors.New(problem)
}

// cancelStory retracts a pushed story, takes a held one off the queue, and
// marks an unseen one so it is never pushed.
func (w *Watcher) cancelStory(ctx context.Context, src Source, s Story, hash string) error {
	found, moved, err := w.move(ctx, hash, statePushed, stateRetracting, "", "", "")
	if err != nil {
		return err
	}
	switch {
	case moved:
		return w.retract(ctx, src, s, hash)
	case found == stateHeld:
		_, _, err = w.move(ctx, hash, stateHeld, stateCanceled, "", "", "")
	case found == "":
		_, err = claimScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash, keyHeld},
			stateCanceled, src.ID, s.ID, s.Headline, "", millis(w.cfg.Now()), int64(storyTTL/time.Second), hash).Result()
	}
	return err
}

// retract retracts the alert of a story that this instance moved to
// "retracting" or took over there. An alert already retracted counts as
// done: the instance before got that far and died before recording it. A
// failure leaves the story "retracting" and stale at once, so the next poll
// retries it; after maxRetractAttempts (a crash counts as one) the story
// becomes "unretracted" and its error is reported on every poll.
func (w *Watcher) retract(ctx context.Context, src Source, s Story, hash string) error {
	key := keyStory + hash
	bg := context.WithoutCancel(ctx)
	alertID, err := w.cfg.Redis.HGet(ctx, key, "alert").Result()
	var n int64
	if err == nil {
		// Counted before the call, so that an instance dying in it
		// spends an attempt too.
		n, err = w.cfg.Redis.HIncrBy(ctx, key, "attempts", 1).Result()
	}
	if err != nil {
		w.cfg.Redis.HSet(bg, key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	_, err = w.cfg.Alerts.Retract(ctx, alertID)
	switch {
	case err == nil || errors.Is(err, notifier.ErrRetracted):
		if _, _, merr := w.move(bg, hash, stateRetracting, stateRetracted, "", "", ""); merr != nil {
			// Still "retracting": the poll after the lease finds the
			// alert retracted and records it.
			return merr
		}
		w.cfg.Redis.HDel(bg, key, "error")
		if err != nil {
			w.cfg.Logger.Info("watch: alert found already retracted", "source", src.ID, "story", s.ID, "alert_id", alertID)
			return nil
		}
		w.cfg.Logger.Info("watch: alert retracted", "source", src.ID, "story", s.ID, "alert_id", alertID)
		return nil
	case n >= maxRetractAttempts:
		problem := clip(fmt.Sprintf("alert %s of story %s not retracted, gave up after %d attempts: %v", alertID, s.ID, n, err), 500)
		w.cfg.Redis.HSet(bg, key, "error", problem)
		_, _, _ = w.move(bg, hash, stateRetracting, stateUnretracted, "", "", "")
		w.cfg.Logger.Error("watch: retraction given up", "source", src.ID, "story", s.ID, "alert_id", alertID, "attempts", n, "error", err.Error())
		return errors.New(problem)
	}
	w.cfg.Redis.HSet(bg, key, "changed", "0", "error", clip(err.Error(), 500))
	return fmt.Errorf("retract alert %s (attempt %d of %d): %w", alertID, n, maxRetractAttempts, err)
}

// unretracted reports a story whose retraction was given up, unless its
// alert has been retracted since (by an editor): then the story is
// recorded retracted and the source's error clears.
func (w *Watcher) unretracted(ctx context.Context, s Story, hash, alertID, problem string) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	if err == nil && cur.Retracted {
		_, _, err = w.move(ctx, hash, stateUnretracted, stateRetracted, "", "", "")
		return err
	}
	if problem == "" {
		problem = fmt.Sprintf("alert %s of story %s not retracted", alertID, s.ID)
	}
	return errors.New(problem)
}

// alert turns a story into the alert it would push. Priority: flash for
// ninjs urgency 1, urgent for everything else the rule flags.
func (w *Watcher) alert(src Source, s Story) flashwire.Alert {
	headline, _ := src.Breaking.withDefaults().cutPrefix(s.Headline)
	topics := append([]string(nil), src.Topics...)
	for _, t := range s.Terms {
		if topic, ok := src.CategoryTopics[strings.ToLower(strings.TrimSpace(t))]; ok {
			topics = append(topics, topic)
		}
	}
	lang := src.Language
	if lang == "" && flashwire.ValidLanguageTag(s.Language) {
		lang = s.Language
	}
	if lang == "" {
		lang = "en"
	}
	priority := flashwire.Urgent
	if s.Urgency == 1 {
		priority = flashwire.Flash
	}
	a := flashwire.Alert{
		Headline: clip(headline, flashwire.MaxHeadline),
		Summary:  clip(s.Summary, flashwire.MaxSummary),
		URL:      s.URL,
		ImageURL: s.ImageURL,
		Topics:   topics,
		Regions:  append([]string(nil), src.Regions...),
		Language: lang,
		Priority: priority,
	}
	a.Normalize()
	return a
}

// checkSource normalizes s and validates it against the taxonomy.
func (w *Watcher) checkSource(ctx context.Context, s *Source) error {
	s.normalize()
	topics, regions, err := w.cfg.Taxonomy.KnownSlugs(ctx)
	if err != nil {
		return fmt.Errorf("load taxonomy: %w", err)
	}
	var bad flashwire.InvalidError
	s.check(&bad, topics, regions)
	return bad.Err()
}
