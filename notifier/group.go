package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Group reads the alert log through a Redis consumer group: every event is
// handed to exactly one consumer of the group at a time and stays pending
// until that consumer's fn succeeded, so an instance that dies between
// reading and finishing loses nothing: another consumer claims the event once
// it has been idle for ClaimIdle.
type Group struct {
	log      *Log
	name     string
	consumer string
	// ClaimIdle is how long an event must sit unacknowledged with another
	// consumer before this one takes it over.
	ClaimIdle time.Duration
	// Batch is the most events read at once.
	Batch int64
}

// DefaultClaimIdle is how long a dead consumer's events wait before another
// takes them: long enough that a slow but live consumer keeps its own.
const DefaultClaimIdle = 30 * time.Second

// Group returns the consumer group name of the log, read as consumer (a
// name unique to this process, such as host and pid).
func (l *Log) Group(name, consumer string) *Group {
	return &Group{log: l, name: name, consumer: consumer, ClaimIdle: DefaultClaimIdle, Batch: 100}
}

// Consume reads the log through the consumer group with default settings;
// see Group.Consume.
func (l *Log) Consume(ctx context.Context, group, consumer string, fn func(flashwire.Event) error) error {
	return l.Group(group, consumer).Consume(ctx, fn)
}

// Create makes the consumer group if it does not exist yet. A new group
// starts at the end of the log: events published before it existed are not
// handed to it, so a first deployment does not replay two days of history.
func (g *Group) Create(ctx context.Context) error {
	err := g.log.rdb.XGroupCreateMkStream(ctx, keyLog, g.name, "$").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s: %w", g.name, err)
	}
	return nil
}

// Consume calls fn with every event of the log handed to this consumer, in
// log order within a batch, and acknowledges the event when fn returns nil.
// An event whose fn failed stays pending and is offered again after
// ClaimIdle. It first finishes this consumer's own pending events (a restart
// under the same name), then takes over other consumers' idle ones, then
// reads new events. Redis errors are retried after a pause; only ctx ends it.
func (g *Group) Consume(ctx context.Context, fn func(flashwire.Event) error) error {
	if err := g.Create(ctx); err != nil {
		return err
	}
	defer g.leave(context.WithoutCancel(ctx))
	block := min(2*time.Second, max(g.ClaimIdle/2, 10*time.Millisecond))
	pause := 100 * time.Millisecond
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
		return nil
	}
	own := "0"
	var lastClaim time.Time
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Own pending events first: after a restart under the same name
		// they are ours and nobody else would take them before ClaimIdle.
		if own != "" {
			msgs, err := g.read(ctx, own, 0)
			if err != nil {
				if err := wait(); err != nil {
					return err
				}
				continue
			}
			if len(msgs) == 0 {
				own = ""
			} else {
				own = msgs[len(msgs)-1].ID
				g.handle(ctx, msgs, fn)
			}
			continue
		}
		if time.Since(lastClaim) >= block {
			lastClaim = time.Now()
			if err := g.claim(ctx, fn); err != nil && ctx.Err() == nil {
				if err := wait(); err != nil {
					return err
				}
				continue
			}
		}
		msgs, err := g.read(ctx, ">", block)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			if err := wait(); err != nil {
				return err
			}
			continue
		}
		pause = 100 * time.Millisecond
		g.handle(ctx, msgs, fn)
	}
}

// leave removes this consumer from the group when it holds no pending
// event, so names of processes long gone do not pile up; one that still
// holds events stays until another consumer claims them.
func (g *Group) leave(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pending, err := g.log.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: keyLog, Group: g.name, Consumer: g.consumer, Start: "-", End: "+", Count: 1,
	}).Result()
	if err == nil && len(pending) == 0 {
		_ = g.log.rdb.XGroupDelConsumer(ctx, keyLog, g.name, g.consumer).Err()
	}
}

// read reads from the group: id "0"-style for this consumer's pending
// events, ">" for new ones, blocking up to block (0: do not block).
func (g *Group) read(ctx context.Context, id string, block time.Duration) ([]redis.XMessage, error) {
	args := &redis.XReadGroupArgs{
		Group:    g.name,
		Consumer: g.consumer,
		Streams:  []string{keyLog, id},
		Count:    g.Batch,
		Block:    block,
	}
	if block == 0 {
		args.Block = -1
	}
	streams, err := g.log.rdb.XReadGroup(ctx, args).Result()
	if err != nil {
		return nil, err
	}
	var msgs []redis.XMessage
	for _, s := range streams {
		msgs = append(msgs, s.Messages...)
	}
	return msgs, nil
}

// claim takes over events idle for ClaimIdle at other consumers and
// handles them.
func (g *Group) claim(ctx context.Context, fn func(flashwire.Event) error) error {
	start := "0-0"
	for {
		msgs, next, err := g.log.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   keyLog,
			Group:    g.name,
			Consumer: g.consumer,
			MinIdle:  g.ClaimIdle,
			Start:    start,
			Count:    g.Batch,
		}).Result()
		if err != nil {
			return fmt.Errorf("claim idle events of group %s: %w", g.name, err)
		}
		g.handle(ctx, msgs, fn)
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// handle runs fn on each message and acknowledges the ones it accepted.
// Entries that no longer decode (or were trimmed) are acknowledged too:
// offering them again could never succeed.
func (g *Group) handle(ctx context.Context, msgs []redis.XMessage, fn func(flashwire.Event) error) {
	var done []string
	for _, m := range msgs {
		if m.Values == nil {
			done = append(done, m.ID)
			continue
		}
		events, err := decodeEvents([]redis.XMessage{m})
		if err != nil || len(events) == 0 {
			done = append(done, m.ID)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if fn(events[0]) == nil {
			done = append(done, m.ID)
		}
	}
	if len(done) > 0 {
		// A failed ack only means the events are offered again: at least
		// once is the promise.
		_ = g.log.rdb.XAck(context.WithoutCancel(ctx), keyLog, g.name, done...).Err()
	}
}
