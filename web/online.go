package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Keys of the count of readers online across instances. One hash tag keeps
// them on one Cluster slot.
const (
	onlineInstancesKey = "flashwire:v1:{online}:instances"
	onlineAskChannel   = "flashwire:v1:{online}:ask"
	onlineReplyPrefix  = "flashwire:v1:{online}:reply:"
)

// Defaults of OnlineConfig.
const (
	DefaultOnlineTTL     = 15 * time.Second
	DefaultOnlineRefresh = 3 * time.Second
	DefaultOnlineWait    = 300 * time.Millisecond
	// onlineReplyTTL bounds how long answers that came too late stay.
	onlineReplyTTL = 10 * time.Second
	// onlineForget drops registrations this many TTLs old: instances that
	// died without leaving.
	onlineForget = 10
)

// OnlineConfig makes a hub count readers online on every instance for the
// editor's dry run, instead of on its own instance only.
type OnlineConfig struct {
	// Redis carries the instances' registrations, the questions (pub/sub)
	// and the answers.
	Redis redis.UniversalClient
	// InstanceID names this instance among the others; empty picks a
	// random one.
	InstanceID string
	// TTL is how recently an instance must have registered to be expected
	// to answer; zero means DefaultOnlineTTL.
	TTL time.Duration
	// Refresh is how often an instance renews its registration; zero
	// means DefaultOnlineRefresh. Keep it well below TTL.
	Refresh time.Duration
	// Wait is how long a dry run waits for the answers; zero means
	// DefaultOnlineWait.
	Wait time.Duration
}

// OnlineCount is a count of readers online: the sum of the answers of the
// instances that answered in time.
type OnlineCount struct {
	Online    int64
	Instances OnlineInstances
}

// OnlineInstances says how many instances answered a count of readers
// online out of how many were expected: fewer means the figure is partial.
type OnlineInstances struct {
	Answered int `json:"answered"`
	Expected int `json:"expected"`
}

// onlineAsk is the message a dry run publishes on onlineAskChannel.
type onlineAsk struct {
	ID       string             `json:"id"`
	Topics   []string           `json:"topics"`
	Regions  []string           `json:"regions"`
	Language string             `json:"language"`
	Priority flashwire.Priority `json:"priority"`
}

// onlineAskID is what a request id looks like: it names a reply key, so
// nothing else is accepted from the channel.
var onlineAskID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// online registers its hub among the instances and answers their
// questions with the hub's count, and gathers the answers of all when this
// instance asks. Run and Shutdown of the hub drive it.
type online struct {
	hub    *Hub
	rdb    redis.UniversalClient
	id     string
	logger *slog.Logger

	ttl, refresh, wait time.Duration

	// subscribed is true while the subscription to the questions is up:
	// without it this instance would not answer itself.
	subscribed atomic.Bool

	mu     sync.Mutex
	cancel context.CancelFunc // guarded by mu; set once run starts
	left   bool               // guarded by mu; set by leave
	done   chan struct{}      // closed when run returns
}

func newOnline(h *Hub, cfg OnlineConfig) *online {
	o := &online{
		hub:     h,
		rdb:     cfg.Redis,
		id:      cfg.InstanceID,
		logger:  h.logger,
		ttl:     cfg.TTL,
		refresh: cfg.Refresh,
		wait:    cfg.Wait,
		done:    make(chan struct{}),
	}
	if o.id == "" {
		o.id = randomHex(8)
	}
	if o.ttl <= 0 {
		o.ttl = DefaultOnlineTTL
	}
	if o.refresh <= 0 {
		o.refresh = DefaultOnlineRefresh
	}
	if o.wait <= 0 {
		o.wait = DefaultOnlineWait
	}
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run keeps this instance registered and answering until ctx ends or
// leave is called.
func (o *online) run(ctx context.Context) {
	o.mu.Lock()
	if o.left || o.cancel != nil {
		o.mu.Unlock()
		return
	}
	ctx, o.cancel = context.WithCancel(ctx)
	o.mu.Unlock()
	defer close(o.done)

	var wg sync.WaitGroup
	wg.Go(func() { o.answerLoop(ctx) })
	defer wg.Wait()
	t := time.NewTicker(o.refresh)
	defer t.Stop()
	for {
		if err := o.register(ctx); err != nil && ctx.Err() == nil {
			o.logger.Warn("cannot register for the count of readers online", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// register renews this instance's registration and forgets instances gone
// for long without leaving.
func (o *online) register(ctx context.Context) error {
	now := o.hub.now().UnixMilli()
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, onlineInstancesKey, redis.Z{Score: float64(now), Member: o.id})
		p.ZRemRangeByScore(ctx, onlineInstancesKey, "-inf", strconv.FormatInt(now-onlineForget*o.ttl.Milliseconds(), 10))
		return nil
	})
	if err != nil {
		return fmt.Errorf("register instance %s: %w", o.id, err)
	}
	return nil
}

// leave stops answering and removes this instance's registration, so dry
// runs stop expecting its answer at once.
func (o *online) leave(ctx context.Context) {
	o.mu.Lock()
	o.left = true
	cancel := o.cancel
	o.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-o.done:
		case <-ctx.Done():
		}
	}
	// Removing must not re-race a registration: run has returned, or ctx
	// ended and the registration expires by itself.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer rcancel()
	if err := o.rdb.ZRem(rctx, onlineInstancesKey, o.id).Err(); err != nil {
		o.logger.Warn("cannot leave the count of readers online; the registration expires by itself", "instance", o.id, "error", err.Error())
	}
}

// answerLoop keeps a subscription to the questions, resubscribing after a
// failure, until ctx ends.
func (o *online) answerLoop(ctx context.Context) {
	pause := 100 * time.Millisecond
	for {
		err := o.answer(ctx)
		o.subscribed.Store(false)
		if ctx.Err() != nil {
			return
		}
		o.logger.Warn("count of readers online: subscription lost; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// answer subscribes to the questions and answers each with the hub's count.
func (o *online) answer(ctx context.Context) error {
	ps := o.rdb.Subscribe(ctx, onlineAskChannel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe to %s: %w", onlineAskChannel, err)
	}
	o.subscribed.Store(true)
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return errors.New("subscription closed")
			}
			if err := o.reply(ctx, m.Payload); err != nil {
				o.logger.Warn("cannot answer a count of readers online", "error", err.Error())
			}
		}
	}
}

// reply pushes this instance's count for one question. The key gets its
// expiry in the same transaction, so no answer outlives onlineReplyTTL.
func (o *online) reply(ctx context.Context, payload string) error {
	var ask onlineAsk
	if err := json.Unmarshal([]byte(payload), &ask); err != nil || !onlineAskID.MatchString(ask.ID) {
		return fmt.Errorf("question %.64q is not understood", payload)
	}
	n := o.hub.Online(flashwire.Attrs{Topics: ask.Topics, Regions: ask.Regions, Language: ask.Language, Priority: ask.Priority})
	key := onlineReplyPrefix + ask.ID
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, n)
		p.Expire(ctx, key, onlineReplyTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("answer %s: %w", ask.ID, err)
	}
	return nil
}

// count asks every instance, this one included, and sums the answers that
// come within o.wait. PUBLISH counts the subscribers of one Cluster node
// only, so the registrations say how many answers to expect. Without
// pub/sub it answers this instance's count alone.
func (o *online) count(ctx context.Context, a flashwire.Attrs) OnlineCount {
	local := func(expected int) OnlineCount {
		return OnlineCount{Online: int64(o.hub.Online(a)), Instances: OnlineInstances{Answered: 1, Expected: max(expected, 1)}}
	}
	since := o.hub.now().Add(-o.ttl).UnixMilli()
	n, err := o.rdb.ZCount(ctx, onlineInstancesKey, strconv.FormatInt(since, 10), "+inf").Result()
	if err != nil {
		logger(ctx).Warn("cannot read the instances; counting readers online here only", "error", err.Error())
		return local(1)
	}
	expected := max(int(n), 1)
	if !o.subscribed.Load() {
		logger(ctx).Warn("not subscribed to the count of readers online; counting here only")
		return local(expected)
	}
	ask := onlineAsk{ID: randomHex(16), Topics: a.Topics, Regions: a.Regions, Language: a.Language, Priority: a.Priority}
	payload, err := json.Marshal(ask)
	if err != nil {
		logger(ctx).Warn("cannot encode the count of readers online; counting here only", "error", err.Error())
		return local(expected)
	}
	if err := o.rdb.Publish(ctx, onlineAskChannel, payload).Err(); err != nil {
		logger(ctx).Warn("cannot ask the instances; counting readers online here only", "error", err.Error())
		return local(expected)
	}
	key := onlineReplyPrefix + ask.ID
	deadline := time.Now().Add(o.wait)
	var out OnlineCount
	for out.Instances.Answered < expected {
		left := time.Until(deadline)
		// BLPOP takes seconds with decimals; a zero would block forever.
		if left < time.Millisecond {
			break
		}
		got, err := o.rdb.Do(ctx, "BLPOP", key, strconv.FormatFloat(left.Seconds(), 'f', 3, 64)).StringSlice()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			logger(ctx).Warn("cannot read the answers of the count of readers online", "error", err.Error())
			break
		}
		v, err := strconv.ParseInt(got[len(got)-1], 10, 64)
		if err != nil {
			logger(ctx).Warn("an answer of the count of readers online is not a number", "answer", got[len(got)-1])
			continue
		}
		out.Online += v
		out.Instances.Answered++
	}
	if out.Instances.Answered == 0 {
		return local(expected)
	}
	// An instance that registered after the question was counted still
	// answers; never report more answers than expected.
	out.Instances.Expected = max(expected, out.Instances.Answered)
	return out
}

// CountOnline returns how many connections on every instance would receive
// an alert with attributes a now, and how many instances answered. Without
// HubConfig.Online it counts this instance's alone.
func (h *Hub) CountOnline(ctx context.Context, a flashwire.Attrs) OnlineCount {
	if h.online == nil {
		return OnlineCount{Online: int64(h.Online(a)), Instances: OnlineInstances{Answered: 1, Expected: 1}}
	}
	return h.online.count(ctx, a)
}
