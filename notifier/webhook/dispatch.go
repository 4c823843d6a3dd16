package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// GroupName is the alert log consumer group of webhook dispatch.
const GroupName = "webhooks"

// Dispatcher turns alert events into deliveries: it reads the alert log
// through a consumer group and acknowledges an event only once a delivery
// for every matching partner is stored, so an instance dying in between
// loses nothing: another takes the event over and the deliveries it already
// stored are not made twice (their ids are fixed by event and partner).
type Dispatcher struct {
	group    *notifier.Group
	partners Directory
	queue    *Queue
	// tally counts the deliveries made pending per alert; Run writes the
	// sums every half second instead of a round trip per event.
	tally *notifier.Tallies
	wake  func()
	log   *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewDispatcher returns a dispatcher reading log as consumer (a name unique
// to this process) and queuing for sender, which it wakes after each event.
// stats may be nil.
func NewDispatcher(log *notifier.Log, consumer string, partners Directory, sender *Sender, stats *notifier.Stats, logger *slog.Logger) *Dispatcher {
	if logger == nil {
		logger = slog.Default()
	}
	return &Dispatcher{
		group:    log.Group(GroupName, consumer),
		partners: partners,
		queue:    sender.queue,
		tally:    stats.Tallies(notifier.Webhook),
		wake:     sender.Wake,
		log:      logger,
		Now:      time.Now,
	}
}

// Group returns the consumer group, whose ClaimIdle tests shorten.
func (d *Dispatcher) Group() *notifier.Group { return d.group }

// Run dispatches until ctx ends, then writes the figures it still holds.
func (d *Dispatcher) Run(ctx context.Context) error {
	stop, flushed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flushed)
		d.tally.Run(context.WithoutCancel(ctx), stop, d.log)
	}()
	defer func() {
		close(stop)
		<-flushed
	}()
	return d.group.Consume(ctx, func(ev flashwire.Event) error {
		if err := d.dispatch(ctx, ev); err != nil {
			d.log.Warn("dispatch alert event to partners; it will be offered again", "event", ev.ID, "error", err.Error())
			return err
		}
		return nil
	})
}

// dispatch stores one delivery per partner that wants ev.
func (d *Dispatcher) dispatch(ctx context.Context, ev flashwire.Event) error {
	targets, err := d.partners.Match(ctx, ev, d.Now())
	if err != nil {
		return fmt.Errorf("match partners for event %s: %w", ev.ID, err)
	}
	if len(targets) == 0 {
		return nil
	}
	at := flashwire.EventTime(ev.ID)
	// An update that changed the alert's targeting is a publication or a
	// retraction to some partners: one body per type, encoded once.
	bodies := map[flashwire.EventType][]byte{}
	ds := make([]Delivery, len(targets))
	for i, t := range targets {
		typ := t.Event
		if typ == "" {
			typ = ev.Type
		}
		body, ok := bodies[typ]
		if !ok {
			if body, err = json.Marshal(message{Type: string(typ), Timestamp: at, Data: ev.Alert}); err != nil {
				return fmt.Errorf("encode event %s: %w", ev.ID, err)
			}
			bodies[typ] = body
		}
		ds[i] = Delivery{ID: DeliveryID(ev.ID, t.ID), PartnerID: t.ID, Type: string(typ), AlertID: ev.Alert.ID,
			EventID: ev.ID, CreatedAt: at, State: StatePending, Body: body}
	}
	// What was stored before an error counts: offered again, the event
	// makes only the rest.
	n, err := d.queue.Enqueue(ctx, ds)
	if n > 0 {
		d.tally.Add(ev.Alert.ID, notifier.Tally{Pending: int64(n)})
		d.wake()
	}
	return err
}

// DeliveryID is the webhook-id of an event's delivery to a partner: fixed
// by both, so dispatching an event twice makes no second delivery.
func DeliveryID(eventID, partnerID string) string {
	return "msg_" + eventID + "_" + partnerID
}

// event returns the type of the log event d came from, as the delivery
// figures need it: a publication's delivery id is made of the alert's own
// id (a published event's id), so a publication sent for a later event
// came from an update that newly matched the partner. A retraction counts
// as coming from an update, which makes the figures remember the partner
// had the alert; partners are few, and nothing follows a true retraction.
func (d Delivery) event() flashwire.EventType {
	switch {
	case d.Type == string(flashwire.Published) && d.ID != DeliveryID(d.AlertID, d.PartnerID):
		return flashwire.Updated
	case d.Type == string(flashwire.Retracted):
		return flashwire.Updated
	}
	return flashwire.EventType(d.Type)
}

// eventID is the log event d came from: its EventID, else what its id
// (DeliveryID) was made of.
func (d Delivery) eventID() string {
	if d.EventID != "" {
		return d.EventID
	}
	return strings.TrimSuffix(strings.TrimPrefix(d.ID, "msg_"), "_"+d.PartnerID)
}
