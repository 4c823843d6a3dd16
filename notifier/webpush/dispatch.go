package webpush

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// GroupName is the alert log consumer group of Web Push dispatch.
const GroupName = "webpush"

// Dispatcher turns alert events into jobs, one per shard of the reader
// index: it reads the alert log through a consumer group and acknowledges
// an event only once its jobs are stored, so an instance dying in between
// loses nothing; job ids are fixed by event and shard, so dispatching
// twice makes no second job. It does no matching: the first instance to
// lease a job finds its readers, so the work of a big alert spreads over
// every instance at once.
type Dispatcher struct {
	group  *notifier.Group
	q      *queue
	shards int
	wake   func()
	log    *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewDispatcher returns a dispatcher reading log as consumer (a name
// unique to this process) and queuing for sender, which it wakes after
// each event.
func NewDispatcher(log *notifier.Log, consumer string, sender *Sender, logger *slog.Logger) *Dispatcher {
	if logger == nil {
		logger = slog.Default()
	}
	return &Dispatcher{
		group:  log.Group(GroupName, consumer),
		q:      sender.q,
		shards: sender.dir.ShardCount(),
		wake:   sender.Wake,
		log:    logger,
		Now:    time.Now,
	}
}

// Group returns the consumer group, whose ClaimIdle tests shorten.
func (d *Dispatcher) Group() *notifier.Group { return d.group }

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.group.Consume(ctx, func(ev flashwire.Event) error {
		if err := d.dispatch(ctx, ev); err != nil {
			d.log.Warn("dispatch alert event to web push; it will be offered again", "event", ev.ID, "error", err.Error())
			return err
		}
		return nil
	})
}

// dispatch stores the jobs of ev, unless it is past its deadline already
// (a consumer that was down for hours): such news is no longer breaking.
func (d *Dispatcher) dispatch(ctx context.Context, ev flashwire.Event) error {
	at := flashwire.EventTime(ev.ID)
	deadline := at.Add(Lifetime(ev.Alert.Priority))
	if !d.Now().Before(deadline) {
		return nil
	}
	body, err := json.Marshal(ev.Alert)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if err := d.q.create(ctx, d.shards, ev.ID, string(ev.Type), ev.Alert.ID, body, at, deadline); err != nil {
		return err
	}
	d.wake()
	return nil
}
