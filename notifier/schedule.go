package notifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire/internal/invalid"
)

// ErrNotScheduled means no alert waits under that schedule id: it never
// existed, was cancelled, or has gone out.
var ErrNotScheduled = errors.New("no scheduled alert with that id")

// Limits of scheduling.
const (
	// MaxScheduleAhead is how far ahead an alert may be scheduled.
	MaxScheduleAhead = 30 * 24 * time.Hour
	// SchedulePoll is how often every instance looks for due alerts.
	SchedulePoll = time.Second
	// scheduleRetries is how often a due alert whose publish failed for a
	// passing reason (Redis down) is tried again, five seconds apart.
	scheduleRetries = 5
)

// Scheduled is an alert waiting for its send time.
type Scheduled struct {
	ID        string    `json:"id"`
	SendAt    time.Time `json:"send_at"`
	Alert     Alert     `json:"alert"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts,omitempty"`
}

// Scheduled alerts live in two keys under the alerts hash tag:
//
//	flashwire:v1:{alerts}:scheduled        sorted set of schedule ids by send time (ms)
//	flashwire:v1:{alerts}:scheduled:items  hash of schedule id -> Scheduled JSON
//
// Every instance polls; claimScript removes a due entry from both keys in
// one step, so exactly one instance gets it.
const (
	keyScheduled      = "flashwire:v1:{alerts}:scheduled"
	keyScheduledItems = "flashwire:v1:{alerts}:scheduled:items"
)

// dueScript claims up to ARGV[2] entries due at ARGV[1] ms.
var dueScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local body = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  if body then table.insert(out, body) end
end
return out
`)

// cancelScript removes one entry and returns it, or nil when it is gone.
var cancelScript = redis.NewScript(`
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local body = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return body
`)

// Schedule checks a and keeps it to be published at sendAt by whichever
// instance polls first. by names who scheduled it, for the record.
func (s *Service) Schedule(ctx context.Context, a Alert, sendAt time.Time, by string) (Scheduled, error) {
	checkErr := s.Check(ctx, &a)
	var bad invalid.Error
	var inv *invalid.Error
	if errors.As(checkErr, &inv) {
		bad.Fields = append(bad.Fields, inv.Fields...)
	} else if checkErr != nil {
		return Scheduled{}, checkErr
	}
	now := s.Now()
	switch {
	case !sendAt.After(now):
		bad.Add("send_at", "is in the past; leave it out to send now")
	case sendAt.Sub(now) > MaxScheduleAhead:
		bad.Add("send_at", "is more than %d days ahead", int(MaxScheduleAhead/(24*time.Hour)))
	}
	if err := bad.Err(); err != nil {
		return Scheduled{}, err
	}
	idBytes := make([]byte, 8)
	_, _ = rand.Read(idBytes)
	sc := Scheduled{
		ID:        "sch_" + hex.EncodeToString(idBytes),
		SendAt:    sendAt.UTC().Truncate(time.Millisecond),
		Alert:     a,
		CreatedBy: by,
		CreatedAt: now.UTC().Truncate(time.Millisecond),
	}
	if err := s.storeScheduled(ctx, sc); err != nil {
		return Scheduled{}, err
	}
	return sc, nil
}

func (s *Service) storeScheduled(ctx context.Context, sc Scheduled) error {
	body, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode scheduled alert: %w", err)
	}
	_, err = s.log.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keyScheduledItems, sc.ID, body)
		p.ZAdd(ctx, keyScheduled, redis.Z{Score: float64(sc.SendAt.UnixMilli()), Member: sc.ID})
		return nil
	})
	if err != nil {
		return fmt.Errorf("store scheduled alert %s: %w", sc.ID, err)
	}
	return nil
}

// CancelScheduled removes a scheduled alert before it goes out and returns
// it; ErrNotScheduled when it is not waiting (any more).
func (s *Service) CancelScheduled(ctx context.Context, id string) (Scheduled, error) {
	body, err := cancelScript.Run(ctx, s.log.rdb, []string{keyScheduled, keyScheduledItems}, id).Text()
	if errors.Is(err, redis.Nil) {
		return Scheduled{}, fmt.Errorf("cancel %s: %w", id, ErrNotScheduled)
	}
	if err != nil {
		return Scheduled{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	var sc Scheduled
	if err := json.Unmarshal([]byte(body), &sc); err != nil {
		return Scheduled{}, fmt.Errorf("decode scheduled alert %s: %w", id, err)
	}
	return sc, nil
}

// ScheduledAlerts lists the alerts waiting to go out, soonest first.
func (s *Service) ScheduledAlerts(ctx context.Context) ([]Scheduled, error) {
	ids, err := s.log.rdb.ZRange(ctx, keyScheduled, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list scheduled alerts: %w", err)
	}
	out := make([]Scheduled, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	bodies, err := s.log.rdb.HMGet(ctx, keyScheduledItems, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("load scheduled alerts: %w", err)
	}
	for i, b := range bodies {
		body, ok := b.(string)
		if !ok {
			continue // sent or cancelled between the two reads
		}
		var sc Scheduled
		if err := json.Unmarshal([]byte(body), &sc); err != nil {
			return nil, fmt.Errorf("decode scheduled alert %s: %w", ids[i], err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// SendDue publishes every scheduled alert due by now and returns them.
// Claiming is atomic, so of several instances calling it at once each alert
// is sent by one. Guards are skipped (PublishOptions{Force, SkipGap}): the
// time was chosen in advance. A publish that fails for a passing reason is
// put back five seconds later, up to scheduleRetries times; an alert that
// no longer validates (a topic since deleted) is dropped and reported in
// the returned error. An instance dying between claim and publish loses
// that alert: the claim is not a lease.
func (s *Service) SendDue(ctx context.Context) ([]Alert, error) {
	now := s.Now()
	bodies, err := dueScript.Run(ctx, s.log.rdb, []string{keyScheduled, keyScheduledItems}, now.UnixMilli(), 50).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim due alerts: %w", err)
	}
	var sent []Alert
	var errs []error
	for _, body := range bodies {
		var sc Scheduled
		if err := json.Unmarshal([]byte(body), &sc); err != nil {
			errs = append(errs, fmt.Errorf("decode scheduled alert: %w", err))
			continue
		}
		a, err := s.PublishWith(ctx, sc.Alert, PublishOptions{Force: true, SkipGap: true})
		var bad *invalid.Error
		switch {
		case err == nil:
			sent = append(sent, a)
		case errors.As(err, &bad) || sc.Attempts+1 >= scheduleRetries:
			errs = append(errs, fmt.Errorf("send scheduled alert %s, dropped: %w", sc.ID, err))
		default:
			sc.Attempts++
			sc.SendAt = now.Add(5 * time.Second).UTC().Truncate(time.Millisecond)
			if perr := s.storeScheduled(context.WithoutCancel(ctx), sc); perr != nil {
				err = errors.Join(err, perr)
			}
			errs = append(errs, fmt.Errorf("send scheduled alert %s, will retry: %w", sc.ID, err))
		}
	}
	return sent, errors.Join(errs...)
}

// RunScheduler calls SendDue every SchedulePoll until ctx ends, logging
// what it sends and what fails. Every instance runs one. A poll under way
// when ctx ends is finished (within 10 s), so that alerts it claimed are
// not lost: RunScheduler returns once nothing is in flight.
func (s *Service) RunScheduler(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(SchedulePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pollCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		sent, err := s.SendDue(pollCtx)
		cancel()
		for _, a := range sent {
			log.Info("scheduled alert sent", "alert_id", a.ID, "priority", a.Priority)
		}
		if err != nil {
			log.Error("scheduled alerts", "error", err.Error())
		}
	}
}
