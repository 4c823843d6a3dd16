package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

const (
	keyPrefix = "flashwire:v1:{webhooks}:"
	keyDue    = keyPrefix + "due"
	keyDelivP = keyPrefix + "d:"
	keyFail   = keyPrefix + "failing"
	// keyEventP + event id + ":" + type holds an event's body, shared by
	// its deliveries of that type.
	keyEventP = keyPrefix + "e:"
	// keySecretsVersion is bumped by every change of a signing secret.
	keySecretsVersion = keyPrefix + "secrets:version"
)

func keyDelivery(id string) string      { return keyDelivP + id }
func keyPartnerIndex(pid string) string { return keyPrefix + "p:" + pid }
func keyParked(pid string) string       { return keyPrefix + "parked:" + pid }
func keyAttempts(pid string) string     { return keyPrefix + "log:" + pid }

// keyEventBody names the body of an event's deliveries of one type (an
// update goes out as a publication or a retraction to some partners).
func keyEventBody(eid, typ string) string { return keyEventP + eid + ":" + typ }

// Retention of deliveries and of the attempt log.
const (
	// KeepDeliveries is how long a delivery can be replayed.
	KeepDeliveries = 7 * 24 * time.Hour
	// KeepAttempts is how many attempts per partner the log keeps.
	KeepAttempts = 1000
	// MaxResponse is how much of a partner's answer an attempt keeps.
	MaxResponse = 1024
)

// The states of a delivery.
const (
	StatePending   = "pending"   // waiting for its next attempt
	StateDelivered = "delivered" // a 2xx came back
	StateFailed    = "failed"    // the schedule is spent, or the partner is gone
	StateParked    = "parked"    // held while its partner is paused or disabled
)

// Delivery is one message to one partner. Its ID is the webhook-id header,
// the same on every attempt and replay.
type Delivery struct {
	ID        string    `json:"id"`
	PartnerID string    `json:"partner_id"`
	Type      string    `json:"type"`
	AlertID   string    `json:"alert_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts"`
	State     string    `json:"state"`
	// EventID is the alert event the delivery carries, "" for a message of
	// its own such as a ping; an event's deliveries share its stored body.
	EventID string `json:"-"`
	// Body is the signed JSON, fixed when the delivery is made.
	Body []byte `json:"-"`
	// Replayed is Attempts when an admin last replayed the delivery: the
	// retry schedule starts over from there, while attempts keep counting
	// so the delivery log numbers every try once.
	Replayed int `json:"-"`
	// Interrupted says this claim found a try that a stopped instance had
	// under way, and recorded it.
	Interrupted bool `json:"-"`
}

// Tries is how many times d was tried since it was made or last replayed,
// what its retry schedule counts.
func (d Delivery) Tries() int { return d.Attempts - d.Replayed }

// Attempt is one try of a delivery, as the delivery log shows it.
type Attempt struct {
	DeliveryID string    `json:"delivery_id"`
	Type       string    `json:"type"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	// Status is the HTTP status, 0 when no answer came.
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	// Response is the start of the answer's body (at most MaxResponse bytes).
	Response string `json:"response"`
	Error    string `json:"error,omitempty"`
	// Outcome is delivered, retry, failed (schedule spent or partner gone),
	// disabled (the partner was disabled by this answer) or interrupted
	// (the instance sending it stopped before an answer came).
	Outcome     string     `json:"outcome"`
	NextAttempt *time.Time `json:"next_attempt_at,omitempty"`
}

// Queue is the durable store of deliveries and their attempts.
type Queue struct {
	rdb redis.UniversalClient
}

// NewQueue returns the queue kept in rdb.
func NewQueue(rdb redis.UniversalClient) *Queue { return &Queue{rdb: rdb} }

// luaEach is a Lua function that calls a variadic command with a list of
// arguments in chunks (Lua's unpack has a stack limit), so a script makes
// one call for a batch instead of one per item. Scripts begin with it.
const luaEach = `
local function each(cmd, key, list)
  for i = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
  end
end
`

// enqueueScript records deliveries, each once (a second call for the same
// id, as when an event is handed out again, changes nothing), and makes
// them due: one call for all of an event's deliveries. An event's body (one
// per type) is stored once, beside its deliveries, which name the event; a
// delivery made for no event (a ping) keeps its body in its own hash.
// KEYS: due, then per delivery: delivery, partner index, body (the event's
// body key, or the delivery key again for a body of its own). ARGV: ttl
// ms, then per delivery: id, partner, type, alert id, event id ("" for
// none), body ("" when an earlier delivery of the call carried the same
// body key), created ms, oldest kept ms. Returns how many were new.
var enqueueScript = redis.NewScript(luaEach + `
local n, due = 0, {}
for i = 0, (#KEYS - 1) / 3 - 1 do
  local kd, kp, kb, a = KEYS[2 + 3*i], KEYS[3 + 3*i], KEYS[4 + 3*i], 1 + 8*i
  if kb ~= kd and ARGV[a+6] ~= '' then
    -- The body outlives every delivery that names it: it is stored, and
    -- its expiry renewed, with the latest of them.
    redis.call('SET', kb, ARGV[a+6], 'PX', ARGV[1])
  end
  if redis.call('EXISTS', kd) == 0 then
    if kb == kd then
      redis.call('HSET', kd, 'partner', ARGV[a+2], 'type', ARGV[a+3], 'alert', ARGV[a+4], 'body', ARGV[a+6],
        'created', ARGV[a+7], 'attempts', 0, 'state', 'pending')
    else
      redis.call('HSET', kd, 'partner', ARGV[a+2], 'type', ARGV[a+3], 'alert', ARGV[a+4], 'event', ARGV[a+5],
        'created', ARGV[a+7], 'attempts', 0, 'state', 'pending')
    end
    redis.call('PEXPIRE', kd, ARGV[1])
    redis.call('ZADD', kp, ARGV[a+7], ARGV[a+1])
    redis.call('ZREMRANGEBYSCORE', kp, '-inf', '(' .. ARGV[a+8])
    table.insert(due, ARGV[a+7])
    table.insert(due, ARGV[a+1])
    n = n + 1
  end
end
each('ZADD', KEYS[1], due)
return n
`)

// enqueueBatch bounds the deliveries one enqueue call stores, so that an
// event for thousands of partners never holds Redis for long at a time.
const enqueueBatch = 256

// Enqueue records deliveries durably and makes them due now, in one round
// trip per enqueueBatch of them. It returns how many were new. Each is
// stored once, so after an error the same call can be made again. The
// deliveries of one event (the same EventID) and type share their body,
// which is stored once.
func (q *Queue) Enqueue(ctx context.Context, ds []Delivery) (int, error) {
	total := 0
	for chunk := range slices.Chunk(ds, enqueueBatch) {
		keys := make([]string, 0, 1+3*len(chunk))
		args := make([]any, 0, 1+8*len(chunk))
		keys = append(keys, keyDue)
		args = append(args, KeepDeliveries.Milliseconds())
		carried := make(map[string]bool, 1)
		for _, d := range chunk {
			created := d.CreatedAt.UnixMilli()
			kd, body := keyDelivery(d.ID), d.Body
			kb := kd
			if d.EventID != "" {
				kb = keyEventBody(d.EventID, d.Type)
				if carried[kb] {
					body = nil
				}
				carried[kb] = true
			}
			keys = append(keys, kd, keyPartnerIndex(d.PartnerID), kb)
			args = append(args, d.ID, d.PartnerID, d.Type, d.AlertID, d.EventID, body, created, created-KeepDeliveries.Milliseconds())
		}
		n, err := enqueueScript.Run(ctx, q.rdb, keys, args...).Int()
		if err != nil {
			return total, fmt.Errorf("enqueue %d deliveries: %w", len(ds), err)
		}
		total += n
	}
	return total, nil
}

// finishScript records attempts' outcomes, one call for a batch. KEYS:
// due, failing, then per delivery: delivery, attempt log, parked. ARGV: log
// length, disable-after ms, then per delivery: id, new state, next due ms,
// attempts, attempt JSON ("" for none), partner, health (ok, fail or ""),
// now ms. Returns per delivery {first failure ms since the last success (0
// if none), 1 if the delivery reached a final state for the first time, 1
// if this failure ends a run of failures long enough to disable the
// partner}. Only one attempt ends a run: it clears the mark in the same
// step, so of several attempts failing at once one disables the partner
// and the others start the next run.
var finishScript = redis.NewScript(luaEach + `
local out, due, gone, logs, order, cleared = {}, {}, {}, {}, {}, {}
for i = 0, (#KEYS - 2) / 3 - 1 do
  local kd, kl, kp, a = KEYS[3 + 3*i], KEYS[4 + 3*i], KEYS[5 + 3*i], 2 + 8*i
  local id, state, partner, health, now = ARGV[a+1], ARGV[a+2], ARGV[a+6], ARGV[a+7], tonumber(ARGV[a+8])
  local since, first, disable = 0, 0, 0
  local cur = redis.call('HMGET', kd, 'created', 'final')
  local created = cur[1]
  if not created then
    table.insert(gone, id)
  else
    if (state == 'delivered' or state == 'failed') and not cur[2] then
      first = 1
      redis.call('HSET', kd, 'state', state, 'attempts', ARGV[a+4], 'final', 1)
    else
      redis.call('HSET', kd, 'state', state, 'attempts', ARGV[a+4])
    end
    if ARGV[a+5] == '' then
      -- No try was counted: the claim's mark of one must go (with a try
      -- counted, the attempts make the mark stale).
      redis.call('HDEL', kd, 'inflight')
    end
    if state == 'pending' then
      table.insert(due, ARGV[a+3])
      table.insert(due, id)
    else
      table.insert(gone, id)
    end
    if state == 'parked' then
      redis.call('ZADD', kp, created, id)
    end
    if ARGV[a+5] ~= '' then
      if not logs[kl] then
        logs[kl] = {}
        table.insert(order, kl)
      end
      -- LPUSH of several values pushes them one after the other: the
      -- last of the batch ends up first, newest first as ever.
      table.insert(logs[kl], ARGV[a+5])
    end
    if health == 'ok' then
      -- One success clears the mark; more in a row change nothing.
      if not cleared[partner] then
        redis.call('HDEL', KEYS[2], partner)
        cleared[partner] = true
      end
    elseif health == 'fail' then
      cleared[partner] = nil
      redis.call('HSETNX', KEYS[2], partner, now)
      since = tonumber(redis.call('HGET', KEYS[2], partner))
      if now - since >= tonumber(ARGV[2]) then
        redis.call('HDEL', KEYS[2], partner)
        disable = 1
      end
    end
  end
  out[i + 1] = {since, first, disable}
end
each('ZADD', KEYS[1], due)
each('ZREM', KEYS[1], gone)
for _, kl in ipairs(order) do
  each('LPUSH', kl, logs[kl])
  redis.call('LTRIM', kl, 0, tonumber(ARGV[1]) - 1)
end
return out
`)

// result is one attempt's outcome to record: the delivery's new state, when
// it is next due (pending only), the attempt for the log (nil for none) and
// what it says of the partner's health (ok, fail or "").
type result struct {
	d      Delivery
	state  string
	next   time.Time
	a      *Attempt
	health string
	now    time.Time
}

// finished is what recording an attempt learnt.
type finished struct {
	// failingSince is when the partner's current run of failures began
	// (zero after a success).
	failingSince time.Time
	// first: the delivery became final for the first time.
	first bool
	// disable: this failure ended a run of failures of disableAfter or
	// more, and the partner must be disabled; one attempt learns it.
	disable bool
}

// finishAll stores deliveries' new states and their attempts in one round
// trip; the answer has one finished per result, in order.
func (q *Queue) finishAll(ctx context.Context, rs []result, disableAfter time.Duration) ([]finished, error) {
	keys := make([]string, 0, 2+3*len(rs))
	args := make([]any, 0, 2+8*len(rs))
	keys = append(keys, keyDue, keyFail)
	args = append(args, KeepAttempts, disableAfter.Milliseconds())
	for _, r := range rs {
		rec := ""
		if r.a != nil {
			b, _ := json.Marshal(r.a)
			rec = string(b)
		}
		keys = append(keys, keyDelivery(r.d.ID), keyAttempts(r.d.PartnerID), keyParked(r.d.PartnerID))
		args = append(args, r.d.ID, r.state, r.next.UnixMilli(), r.d.Attempts, rec, r.d.PartnerID, r.health, r.now.UnixMilli())
	}
	res, err := finishScript.Run(ctx, q.rdb, keys, args...).Slice()
	if err == nil && len(res) != len(rs) {
		err = fmt.Errorf("%d answers", len(res))
	}
	if err != nil {
		return nil, fmt.Errorf("record %d attempts: %w", len(rs), err)
	}
	out := make([]finished, len(rs))
	for i, r := range res {
		v, _ := r.([]any)
		if len(v) != 3 {
			continue
		}
		since, _ := v[0].(int64)
		first, _ := v[1].(int64)
		disable, _ := v[2].(int64)
		if since > 0 {
			out[i].failingSince = time.UnixMilli(since)
		}
		out[i].first, out[i].disable = first == 1, disable == 1
	}
	return out, nil
}

// finish stores one delivery's new state and its attempt.
func (q *Queue) finish(ctx context.Context, d Delivery, state string, next time.Time, a *Attempt, health string, now time.Time, disableAfter time.Duration) (finished, error) {
	fs, err := q.finishAll(ctx, []result{{d: d, state: state, next: next, a: a, health: health, now: now}}, disableAfter)
	if err != nil {
		return finished{}, err
	}
	return fs[0], nil
}

// forgetFailures clears when the partner's run of failures began.
func (q *Queue) forgetFailures(ctx context.Context, partnerID string) error {
	if err := q.rdb.HDel(ctx, keyFail, partnerID).Err(); err != nil {
		return fmt.Errorf("reset failures of partner %s: %w", partnerID, err)
	}
	return nil
}

// Attempts returns the partner's attempts, newest first, from offset, and
// how many are kept in all.
func (q *Queue) Attempts(ctx context.Context, partnerID string, offset, limit int) ([]Attempt, int64, error) {
	key := keyAttempts(partnerID)
	var rng *redis.StringSliceCmd
	var total *redis.IntCmd
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		rng = p.LRange(ctx, key, int64(offset), int64(offset+limit-1))
		total = p.LLen(ctx, key)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load attempts of partner %s: %w", partnerID, err)
	}
	out := make([]Attempt, 0, len(rng.Val()))
	for _, s := range rng.Val() {
		var a Attempt
		if json.Unmarshal([]byte(s), &a) == nil {
			out = append(out, a)
		}
	}
	return out, total.Val(), nil
}

// Delivery returns one of the partner's deliveries.
func (q *Queue) Delivery(ctx context.Context, partnerID, id string) (Delivery, error) {
	h, err := q.rdb.HGetAll(ctx, keyDelivery(id)).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("load delivery %s: %w", id, err)
	}
	if h["partner"] != partnerID {
		return Delivery{}, fmt.Errorf("load delivery %s of partner %s: %w", id, partnerID, flashwire.ErrNotFound)
	}
	body := h["body"]
	if ev := h["event"]; ev != "" {
		body, err = q.rdb.Get(ctx, keyEventBody(ev, h["type"])).Result()
		if errors.Is(err, redis.Nil) {
			return Delivery{}, fmt.Errorf("load body of delivery %s: %w", id, flashwire.ErrNotFound)
		}
		if err != nil {
			return Delivery{}, fmt.Errorf("load body of delivery %s: %w", id, err)
		}
	}
	created, _ := strconv.ParseInt(h["created"], 10, 64)
	attempts, _ := strconv.Atoi(h["attempts"])
	replayed, _ := strconv.Atoi(h["replayed"])
	return Delivery{ID: id, PartnerID: partnerID, Type: h["type"], AlertID: h["alert"], EventID: h["event"], Body: []byte(body),
		CreatedAt: time.UnixMilli(created).UTC(), Attempts: attempts, State: h["state"], Replayed: replayed}, nil
}

// requeueScript makes a kept delivery due again from a fresh schedule; its
// attempts keep counting, so the log numbers the replay's tries after the
// earlier ones. KEYS: delivery, due, parked. ARGV: id, partner, due ms.
var requeueScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'partner') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'pending', 'replayed', redis.call('HGET', KEYS[1], 'attempts') or 0)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`)

// Replay makes one delivery due at at, with its same id and body and a
// fresh retry schedule.
func (q *Queue) Replay(ctx context.Context, partnerID, id string, at time.Time) error {
	n, err := requeueScript.Run(ctx, q.rdb, []string{keyDelivery(id), keyDue, keyParked(partnerID)},
		id, partnerID, at.UnixMilli()).Int()
	if err != nil {
		return fmt.Errorf("replay delivery %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("replay delivery %s of partner %s: %w", id, partnerID, flashwire.ErrNotFound)
	}
	return nil
}

// ReplaySince makes every kept delivery of the partner created at or after
// since due again, oldest first, one every pace from start, so a replay
// reaches the partner as a steady stream and not as a storm. It returns how
// many were queued.
func (q *Queue) ReplaySince(ctx context.Context, partnerID string, since, start time.Time, pace time.Duration) (int, error) {
	ids, err := q.rdb.ZRangeByScore(ctx, keyPartnerIndex(partnerID), &redis.ZRangeBy{
		Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return 0, fmt.Errorf("list deliveries of partner %s: %w", partnerID, err)
	}
	cmds := make([]*redis.Cmd, len(ids))
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			at := start.Add(time.Duration(i) * pace)
			cmds[i] = requeueScript.Eval(ctx, p, []string{keyDelivery(id), keyDue, keyParked(partnerID)},
				id, partnerID, at.UnixMilli())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replay deliveries of partner %s: %w", partnerID, err)
	}
	n := 0
	for _, c := range cmds {
		if v, _ := c.Int(); v == 1 {
			n++
		}
	}
	return n, nil
}

// Parked returns how many of the partner's deliveries are held.
func (q *Queue) Parked(ctx context.Context, partnerID string) (int64, error) {
	n, err := q.rdb.ZCard(ctx, keyParked(partnerID)).Result()
	if err != nil {
		return 0, fmt.Errorf("count parked deliveries of partner %s: %w", partnerID, err)
	}
	return n, nil
}

// Depth returns how many deliveries are queued (due or leased) and how late
// the oldest due one is.
func (q *Queue) Depth(ctx context.Context, now time.Time) (depth int64, lag time.Duration, err error) {
	var card *redis.IntCmd
	var oldest *redis.ZSliceCmd
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		card = p.ZCard(ctx, keyDue)
		oldest = p.ZRangeWithScores(ctx, keyDue, 0, 0)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("measure delivery queue: %w", err)
	}
	if zs := oldest.Val(); len(zs) > 0 {
		lag = max(now.Sub(time.UnixMilli(int64(zs[0].Score))), 0)
	}
	return card.Val(), lag, nil
}
