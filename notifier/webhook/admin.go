package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// What admins do with a partner's deliveries: read the delivery log, send
// deliveries again, test the endpoint and rotate the signing secret. Each
// wakes the sender when it queued something.

// ReplayPace spaces the deliveries of a replay: 20 a second reach a
// partner recovering from an outage without flooding it.
const ReplayPace = 50 * time.Millisecond

// Attempts returns a page of the partner's delivery log, newest first,
// with the total number of attempts kept and how many deliveries are
// parked (waiting while the partner is paused or disabled).
func (s *Sender) Attempts(ctx context.Context, partnerID string, offset, limit int) (attempts []Attempt, total, parked int64, err error) {
	attempts, total, err = s.queue.Attempts(ctx, partnerID, offset, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	parked, err = s.queue.Parked(ctx, partnerID)
	if err != nil {
		return nil, 0, 0, err
	}
	return attempts, total, parked, nil
}

// Replay sends one delivery again now, with its same webhook-id and body
// and a fresh retry schedule, and returns it as queued. Its error wraps
// flashwire.ErrNotFound for an unknown delivery.
func (s *Sender) Replay(ctx context.Context, partnerID, id string) (Delivery, error) {
	if err := s.queue.Replay(ctx, partnerID, id, s.Now()); err != nil {
		return Delivery{}, err
	}
	s.Wake()
	return s.queue.Delivery(ctx, partnerID, id)
}

// ReplaySince sends again every kept delivery to the partner created at or
// after since, oldest first, ReplayPace apart from now on, and returns how
// many.
func (s *Sender) ReplaySince(ctx context.Context, partnerID string, since time.Time) (int, error) {
	n, err := s.queue.ReplaySince(ctx, partnerID, since, s.Now(), ReplayPace)
	if err != nil {
		return 0, err
	}
	s.Wake()
	return n, nil
}

// Ping queues a "ping" message to the partner, a test of its endpoint and
// its verification; the attempt shows in the delivery log.
func (s *Sender) Ping(ctx context.Context, partnerID string) (Delivery, error) {
	now := s.Now().UTC()
	body, err := json.Marshal(message{Type: "ping", Timestamp: now, Data: map[string]string{"partner_id": partnerID}})
	if err != nil {
		return Delivery{}, fmt.Errorf("encode ping: %w", err)
	}
	d := Delivery{ID: "msg_ping_" + strconv.FormatInt(now.UnixNano(), 36) + "_" + partnerID, PartnerID: partnerID,
		Type: "ping", CreatedAt: now, State: StatePending, Body: body}
	if _, err := s.queue.Enqueue(ctx, []Delivery{d}); err != nil {
		return Delivery{}, err
	}
	s.Wake()
	return d, nil
}

// RotateSecret issues the partner a new signing secret and returns it; the
// old one keeps signing beside it until previousUntil (grace from now; the
// zero time when grace is 0 and it stopped at once).
func (s *Sender) RotateSecret(ctx context.Context, partnerID string, grace time.Duration) (secret string, previousUntil time.Time, err error) {
	secret, err = s.secrets.Rotate(ctx, partnerID, grace)
	if err != nil {
		return "", time.Time{}, err
	}
	if grace > 0 {
		previousUntil = s.secrets.Now().Add(grace).UTC().Truncate(time.Second)
	}
	return secret, previousUntil, nil
}

// RevokePreviousSecret stops the partner's rotated-out secret signing now.
func (s *Sender) RevokePreviousSecret(ctx context.Context, partnerID string) error {
	return s.secrets.RevokePrevious(ctx, partnerID)
}
