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

	"flashwire"
)

// ErrNotScheduled means no alert waits under that schedule id: it never
// existed, was cancelled, or has gone out.
var ErrNotScheduled = flashwire.NewError(flashwire.ErrNotFound, "no scheduled alert with that id")

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
	ID        string          `json:"id"`
	SendAt    time.Time       `json:"send_at"`
	Alert     flashwire.Alert `json:"alert"`
	CreatedBy string          `json:"created_by,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	Attempts  int             `json:"attempts,omitempty"`
}

// Scheduled alerts live in three keys under the alerts hash tag:
//
//	flashwire:v1:{alerts}:scheduled           sorted set of waiting schedule ids by send time (ms)
//	flashwire:v1:{alerts}:scheduled:inflight  sorted set of claimed schedule ids by lease end (ms)
//	flashwire:v1:{alerts}:scheduled:items     hash of schedule id -> Scheduled JSON
//
// Every instance polls; dueScript moves a due entry to the in-flight set
// with a lease, so one instance at a time has it. The entry is removed only
// once its alert is published, and an entry whose lease ran out (its
// instance died) is claimed again. Publishing under the schedule id as once
// key makes the second claim harmless when the first did publish.
const (
	keyScheduled         = "flashwire:v1:{alerts}:scheduled"
	keyScheduledInflight = "flashwire:v1:{alerts}:scheduled:inflight"
	keyScheduledItems    = "flashwire:v1:{alerts}:scheduled:items"
)

// DefaultScheduleLease is how long an instance has to publish a scheduled
// alert it claimed before another instance may claim it again. It exceeds
// the 10 s bound on one poll of RunScheduler.
const DefaultScheduleLease = 30 * time.Second

// dueScript claims up to ARGV[2] entries: first those whose lease ended by
// ARGV[1] ms, then those due by then, leasing each until ARGV[3] ms.
// KEYS: scheduled, items, inflight.
var dueScript = redis.NewScript(`
local n = tonumber(ARGV[2])
local out = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, n)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, n)
for _, ids in ipairs({expired, due}) do
  for _, id in ipairs(ids) do
    if #out < n then
      redis.call('ZREM', KEYS[1], id)
      local body = redis.call('HGET', KEYS[2], id)
      if body then
        redis.call('ZADD', KEYS[3], ARGV[3], id)
        table.insert(out, body)
      else
        redis.call('ZREM', KEYS[3], id)
      end
    end
  end
end
return out
`)

// doneScript forgets a claimed entry once it is published or dropped.
// KEYS: inflight, items. ARGV: schedule id.
var doneScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
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
func (s *Service) Schedule(ctx context.Context, a flashwire.Alert, sendAt time.Time, by string) (Scheduled, error) {
	checkErr := s.Check(ctx, &a)
	var bad flashwire.InvalidError
	var inv *flashwire.InvalidError
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
		// A retried entry leaves the in-flight set as it waits again.
		p.ZRem(ctx, keyScheduledInflight, sc.ID)
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

// SendDue publishes every scheduled alert due by now and returns those it
// sent. Of several instances calling it at once each alert is claimed by
// one, under a lease of ScheduleLease; an instance that dies before
// publishing leaves the alert to be claimed again once the lease ends, and
// one that dies after publishing but before forgetting the entry leaves a
// claim whose publish is a repeat (the once key is the schedule id), so
// nothing is lost or sent twice. Guards are skipped (PublishOptions{Force,
// SkipGap}): the time was chosen in advance. A publish that fails for a
// passing reason is put back five seconds later, up to scheduleRetries
// times; an alert that no longer validates (a topic since deleted) is
// dropped and reported in the returned error.
func (s *Service) SendDue(ctx context.Context) ([]flashwire.Alert, error) {
	now := s.Now()
	due, err := s.claimDue(ctx, now)
	if err != nil {
		return nil, err
	}
	var sent []flashwire.Alert
	var errs []error
	for _, sc := range due {
		a, repeat, err := s.Publish(ctx, sc.Alert, PublishOptions{Force: true, SkipGap: true, Once: sc.ID})
		var bad *flashwire.InvalidError
		switch {
		case err == nil:
			if derr := s.doneScheduled(ctx, sc.ID); derr != nil {
				// The lease runs out and the next claim is a repeat.
				errs = append(errs, derr)
			}
			if !repeat {
				sent = append(sent, a)
			}
		case errors.As(err, &bad) || sc.Attempts+1 >= scheduleRetries:
			if derr := s.doneScheduled(context.WithoutCancel(ctx), sc.ID); derr != nil {
				err = errors.Join(err, derr)
			}
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

// claimDue leases up to 50 entries due by now, or whose lease ended by now.
func (s *Service) claimDue(ctx context.Context, now time.Time) ([]Scheduled, error) {
	lease := s.ScheduleLease
	if lease <= 0 {
		lease = DefaultScheduleLease
	}
	bodies, err := dueScript.Run(ctx, s.log.rdb, []string{keyScheduled, keyScheduledItems, keyScheduledInflight},
		now.UnixMilli(), 50, now.Add(lease).UnixMilli()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim due alerts: %w", err)
	}
	due := make([]Scheduled, 0, len(bodies))
	var errs []error
	for _, body := range bodies {
		var sc Scheduled
		if err := json.Unmarshal([]byte(body), &sc); err != nil {
			errs = append(errs, fmt.Errorf("decode scheduled alert: %w", err))
			continue
		}
		due = append(due, sc)
	}
	return due, errors.Join(errs...)
}

// doneScheduled forgets a claimed entry.
func (s *Service) doneScheduled(ctx context.Context, id string) error {
	if err := doneScript.Run(ctx, s.log.rdb, []string{keyScheduledInflight, keyScheduledItems}, id).Err(); err != nil {
		return fmt.Errorf("forget scheduled alert %s: %w", id, err)
	}
	return nil
}

// RunScheduler calls SendDue every SchedulePoll until ctx ends, logging
// what it sends and what fails. Every instance runs one. A poll under way
// when ctx ends is finished (within 10 s), so that alerts it claimed do not
// wait for their lease to end: RunScheduler returns once nothing is in
// flight.
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
