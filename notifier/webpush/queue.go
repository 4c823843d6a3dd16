package webpush

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The queue: one job per alert event and reader-index shard. A job's keys
// share the shard's hash tag {webpush:N}, so every script runs in one
// Cluster slot and the shards' jobs spread over the masters.
//
// A subscription is one bit of its shard (subscribers.PushTarget.Bit). A
// worker claims each subscription's bit in "claimed" before it sends and
// sets it in "done" once the outcome is recorded; a claim never succeeds
// twice, so nothing is sent twice, by any instance, across restarts. A
// subscription claimed but never done was being sent by an instance that
// died: the next holder of the job counts it as failed (interrupted), so a
// crash shows in the figures instead of vanishing.

// job keys.
func keyDue(sh int) string { return keyShard(sh) + "due" }
func keyJob(sh int, id string) string {
	return keyShard(sh) + "job:" + id
}
func keyMatch(sh int, id string) string   { return keyShard(sh) + "match:" + id }
func keyClaimed(sh int, id string) string { return keyShard(sh) + "claimed:" + id }
func keyDone(sh int, id string) string    { return keyShard(sh) + "done:" + id }
func keyRetry(sh int, id string) string   { return keyShard(sh) + "retry:" + id }
func keyShard(sh int) string              { return "flashwire:v1:{webpush:" + strconv.Itoa(sh) + "}:" }

// keepJob is how long a finished job's keys stay: a retraction within it
// reaches exactly the subscriptions its alert was sent to.
const keepJob = 48 * time.Hour

// job is one (event, shard) of the queue as a worker holds it.
type job struct {
	Shard    int
	ID       string // the event id
	Type     string // flashwire.EventType
	AlertID  string
	Alert    []byte // the alert's JSON, as the log has it
	Created  time.Time
	Deadline time.Time
	Leases   int
	Snapped  bool
	Subs     int64
	Walked   bool
}

// createScript stores a job unless it exists, makes it due now, and tells
// the alert's published job (KEYS[3]) what happened: a correction replaces
// the text it still has to send, a retraction cancels the rest of it.
// KEYS: job, due, published job. ARGV: id, type, alert id, alert JSON,
// created ms, deadline ms, keep ms.
var createScript = redis.NewScript(`
if ARGV[2] == 'alert.updated' then
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], 'alert', ARGV[4]) end
elseif ARGV[2] == 'alert.retracted' then
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], 'cancelled', 1) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'type', ARGV[2], 'alert_id', ARGV[3], 'alert', ARGV[4], 'created', ARGV[5],
  'deadline', ARGV[6], 'owner', '', 'lease', 0, 'leases', 0, 'subs', 0, 'settled', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
return 1
`)

// leaseScript takes the first due job of a shard until a lease end.
// KEYS: due. ARGV: now ms, lease end ms, owner token, job key prefix.
// Returns the job id and its fields, or nil.
var leaseScript = redis.NewScript(`
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
  if #ids == 0 then return false end
  local id = ids[1]
  local key = ARGV[4] .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, 'owner', ARGV[3], 'lease', ARGV[2])
    redis.call('HINCRBY', key, 'leases', 1)
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    return {id, redis.call('HMGET', key, 'type', 'alert_id', 'alert', 'created', 'deadline', 'leases', 'snap', 'subs', 'walked')}
  end
  redis.call('ZREM', KEYS[1], id)
end
return false
`)

// renewScript extends a lease the caller still holds. KEYS: job, due.
// ARGV: token, lease end ms, job id. Returns 0 when the lease was lost.
var renewScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return 1
`)

// releaseScript gives back a lease the caller holds and makes the job due
// at once, for another instance to go on with (at shutdown). KEYS: job,
// due. ARGV: token, now ms, job id.
var releaseScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', '', 'lease', 0)
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[3])
return 1
`)

// snapScript stores the readers a job reaches, once: a job resumed by
// another instance walks the same readers. KEYS: job, match. ARGV: token,
// bitmap, subscriptions, keep ms. Returns {1 when stored now, subs}, or
// {-1} when the lease was lost.
var snapScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {-1, 0} end
if redis.call('HGET', KEYS[1], 'snap') == '1' then
  return {0, tonumber(redis.call('HGET', KEYS[1], 'subs'))}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('HSET', KEYS[1], 'snap', 1, 'subs', ARGV[3])
return {1, tonumber(ARGV[3])}
`)

// claimScript claims subscriptions for sending and defers others. KEYS:
// job, claimed, done, retry. ARGV: token, now ms, least lease left ms, n,
// then n bits to claim, then pairs (bit, due ms) to defer. A bit is claimed
// when neither claimed nor done, and leaves the retry set; a deferred bit
// not claimed nor done joins the retry set. Nothing is claimed once the
// lease is lost or too short, the job cancelled or past its deadline;
// then the reply is {"lost"}, {"cancelled"} or {"expired"}, else {"ok",
// claimed bits...}.
var claimScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'owner', 'lease', 'cancelled', 'deadline')
local now = tonumber(ARGV[2])
if h[1] ~= ARGV[1] or tonumber(h[2]) - now < tonumber(ARGV[3]) then return {'lost'} end
if h[3] == '1' then return {'cancelled'} end
if now >= tonumber(h[4]) then return {'expired'} end
local out = {'ok'}
local n = tonumber(ARGV[4])
for i = 5, 4 + n do
  local bit = ARGV[i]
  if redis.call('GETBIT', KEYS[3], bit) == 0 and redis.call('SETBIT', KEYS[2], bit, 1) == 0 then
    redis.call('ZREM', KEYS[4], bit)
    out[#out + 1] = bit
  end
end
for i = 5 + n, #ARGV, 2 do
  local bit = ARGV[i]
  if redis.call('GETBIT', KEYS[3], bit) == 0 and redis.call('GETBIT', KEYS[2], bit) == 0 then
    redis.call('ZADD', KEYS[4], ARGV[i + 1], bit)
  end
end
return out
`)

// The outcomes of a claimed subscription, as recordScript counts them in
// the job hash.
const (
	outReached = "reached"
	outFailed  = "failed"
	outRemoved = "removed"
)

// recordScript records outcomes. KEYS: job, claimed, done, retry. ARGV:
// token, n, then n pairs (bit, outcome) that are final, then pairs (bit,
// due ms) to try again. A final outcome counts only when it sets the bit's
// done bit, so a subscription is counted once whoever records it. A bit
// to try again is released (claimed cleared) into the retry set while the
// caller holds the lease; otherwise it stays claimed and the next holder
// counts it as interrupted. Returns the outcomes that counted, in order,
// "" for those that did not.
var recordScript = redis.NewScript(`
local mine = redis.call('HGET', KEYS[1], 'owner') == ARGV[1]
local n = tonumber(ARGV[2])
local out = {}
for i = 3, 2 + 2 * n, 2 do
  local bit, what = ARGV[i], ARGV[i + 1]
  if redis.call('SETBIT', KEYS[3], bit, 1) == 0 then
    redis.call('HINCRBY', KEYS[1], what, 1)
    redis.call('HINCRBY', KEYS[1], 'settled', 1)
    out[#out + 1] = what
  else
    out[#out + 1] = ''
  end
end
if mine then
  for i = 3 + 2 * n, #ARGV, 2 do
    if redis.call('GETBIT', KEYS[3], ARGV[i]) == 0 then
      redis.call('SETBIT', KEYS[2], ARGV[i], 0)
      redis.call('ZADD', KEYS[4], ARGV[i + 1], ARGV[i])
    end
  end
end
return out
`)

// finishScript ends a walk of a job the caller holds. KEYS: job, due,
// retry, match, claimed, done. ARGV: token, now ms, keep ms, job id.
// While subscriptions wait in the retry set and the job is neither
// cancelled nor past its deadline, the job is released and made due at the
// first retry: {1, due ms}. Otherwise it is done and its keys kept keep
// ms: {0, subscriptions never settled, "expired" or "cancelled" or ""}.
// {-1} when the lease was lost.
var finishScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'owner', 'cancelled', 'deadline', 'subs', 'settled', 'state')
if h[1] ~= ARGV[1] then return {-1} end
local now = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'walked', 1, 'owner', '')
if h[2] ~= '1' and now < tonumber(h[3]) then
  local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if #first > 0 then
    redis.call('ZADD', KEYS[2], first[2], ARGV[4])
    return {1, tonumber(first[2])}
  end
end
redis.call('ZREM', KEYS[2], ARGV[4])
if h[6] == 'done' then return {0, 0, ''} end
redis.call('HSET', KEYS[1], 'state', 'done')
for i = 1, 6 do
  if i ~= 2 then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
end
local why = ''
if h[2] == '1' then why = 'cancelled' elseif now >= tonumber(h[3]) then why = 'expired' end
return {0, tonumber(h[4]) - tonumber(h[5]), why}
`)

// queue is the jobs in Redis.
type queue struct {
	rdb redis.UniversalClient
}

// create stores the jobs of one event, one per shard.
func (q *queue) create(ctx context.Context, shards int, id, typ, alertID string, alert []byte, created, deadline time.Time) error {
	keep := deadline.Add(keepJob).Sub(created).Milliseconds()
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sh := range shards {
			createScript.Eval(ctx, p, []string{keyJob(sh, id), keyDue(sh), keyJob(sh, alertID)},
				id, typ, alertID, alert, created.UnixMilli(), deadline.UnixMilli(), keep)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue web push jobs of event %s: %w", id, err)
	}
	return nil
}

// lease takes due jobs until leaseEnd, at most one from each of the given
// shards, in one round trip.
func (q *queue) lease(ctx context.Context, shards []int, now, leaseEnd time.Time, token string) ([]job, error) {
	cmds := make([]*redis.Cmd, len(shards))
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sh := range shards {
			cmds[i] = leaseScript.Eval(ctx, p, []string{keyDue(sh)}, now.UnixMilli(), leaseEnd.UnixMilli(), token, keyShard(sh)+"job:")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("lease web push jobs: %w", err)
	}
	var out []job
	for i, c := range cmds {
		res, err := c.Slice()
		if err != nil || len(res) != 2 {
			continue
		}
		id, _ := res[0].(string)
		f, _ := res[1].([]any)
		if len(f) != 9 {
			continue
		}
		s := make([]string, len(f))
		for j, v := range f {
			s[j], _ = v.(string)
		}
		ms := func(v string) time.Time { n, _ := strconv.ParseInt(v, 10, 64); return time.UnixMilli(n).UTC() }
		leases, _ := strconv.Atoi(s[5])
		subs, _ := strconv.ParseInt(s[7], 10, 64)
		out = append(out, job{Shard: shards[i], ID: id, Type: s[0], AlertID: s[1], Alert: []byte(s[2]),
			Created: ms(s[3]), Deadline: ms(s[4]), Leases: leases, Snapped: s[6] == "1", Subs: subs, Walked: s[8] == "1"})
	}
	return out, nil
}

// renew extends the lease of j; false when it was lost.
func (q *queue) renew(ctx context.Context, j job, token string, leaseEnd time.Time) (bool, error) {
	n, err := renewScript.Run(ctx, q.rdb, []string{keyJob(j.Shard, j.ID), keyDue(j.Shard)}, token, leaseEnd.UnixMilli(), j.ID).Int()
	if err != nil {
		return true, fmt.Errorf("renew lease of web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	return n == 1, nil
}

// release gives back the lease of a job not walked to its end.
func (q *queue) release(ctx context.Context, j job, token string, now time.Time) error {
	if err := releaseScript.Run(ctx, q.rdb, []string{keyJob(j.Shard, j.ID), keyDue(j.Shard)}, token, now.UnixMilli(), j.ID).Err(); err != nil {
		return fmt.Errorf("release web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	return nil
}

// alert returns the job's current alert JSON: a correction may have
// replaced it since the lease.
func (q *queue) alert(ctx context.Context, j job) ([]byte, bool, error) {
	v, err := q.rdb.HMGet(ctx, keyJob(j.Shard, j.ID), "alert", "cancelled").Result()
	if err != nil {
		return nil, false, fmt.Errorf("load web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	a, _ := v[0].(string)
	c, _ := v[1].(string)
	return []byte(a), c == "1", nil
}

// snap stores the job's readers once and returns the bitmap every holder
// walks and how many subscriptions it was counted at. stored is true for
// the call that stored it.
func (q *queue) snap(ctx context.Context, j job, token string, bitmap []byte, subs int64) (stored bool, n int64, err error) {
	res, err := snapScript.Run(ctx, q.rdb, []string{keyJob(j.Shard, j.ID), keyMatch(j.Shard, j.ID)},
		token, bitmap, subs, j.Deadline.Add(keepJob).Sub(j.Created).Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("store readers of web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	if res[0] == -1 {
		return false, 0, errLeaseLost
	}
	return res[0] == 1, res[1], nil
}

// bitmap returns one of a job's bitmaps (match, claimed or done), empty
// when it does not exist.
func (q *queue) bitmap(ctx context.Context, key string) ([]byte, error) {
	v, err := q.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", key, err)
	}
	return v, nil
}

var (
	errLeaseLost = errors.New("lease lost")
	errCancelled = errors.New("alert retracted")
	errExpired   = errors.New("past the deadline")
)

// deferral is a subscription put off until due.
type deferral struct {
	bit int
	due time.Time
}

// claim claims bits for sending and defers others; it returns the bits
// claimed, or errLeaseLost, errCancelled or errExpired.
func (q *queue) claim(ctx context.Context, j job, token string, now time.Time, leastLeft time.Duration, bits []int, later []deferral) ([]int, error) {
	args := []any{token, now.UnixMilli(), leastLeft.Milliseconds(), len(bits)}
	for _, b := range bits {
		args = append(args, b)
	}
	for _, d := range later {
		args = append(args, d.bit, d.due.UnixMilli())
	}
	res, err := claimScript.Run(ctx, q.rdb, j.keys(), args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim web push subscriptions of job %s/%d: %w", j.ID, j.Shard, err)
	}
	switch res[0] {
	case "lost":
		return nil, errLeaseLost
	case "cancelled":
		return nil, errCancelled
	case "expired":
		return nil, errExpired
	}
	out := make([]int, 0, len(res)-1)
	for _, v := range res[1:] {
		n, _ := strconv.Atoi(v)
		out = append(out, n)
	}
	return out, nil
}

// keys are the keys claimScript and recordScript take.
func (j job) keys() []string {
	return []string{keyJob(j.Shard, j.ID), keyClaimed(j.Shard, j.ID), keyDone(j.Shard, j.ID), keyRetry(j.Shard, j.ID)}
}

// outcome is a final outcome of one claimed subscription.
type outcome struct {
	bit  int
	what string
}

// record stores outcomes and returns, for each final one, whether it
// counted (its subscription was not settled before).
func (q *queue) record(ctx context.Context, j job, token string, final []outcome, again []deferral) ([]bool, error) {
	args := []any{token, len(final)}
	for _, o := range final {
		args = append(args, o.bit, o.what)
	}
	for _, d := range again {
		args = append(args, d.bit, d.due.UnixMilli())
	}
	res, err := recordScript.Run(ctx, q.rdb, j.keys(), args...).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("record web push outcomes of job %s/%d: %w", j.ID, j.Shard, err)
	}
	counted := make([]bool, len(final))
	for i := range final {
		counted[i] = i < len(res) && res[i] != ""
	}
	return counted, nil
}

// due returns up to n bits of the retry set due by now.
func (q *queue) due(ctx context.Context, j job, now time.Time, n int) ([]int, error) {
	vs, err := q.rdb.ZRangeByScore(ctx, keyRetry(j.Shard, j.ID), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("load retries of web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		b, _ := strconv.Atoi(v)
		out = append(out, b)
	}
	return out, nil
}

// finished is what finish found.
type finished struct {
	more      bool      // retries wait: the job is due again at next
	next      time.Time // when
	unsettled int64     // subscriptions counted at the snapshot and never settled
	why       string    // "expired", "cancelled" or ""
}

// finish ends a walk of j (see finishScript).
func (q *queue) finish(ctx context.Context, j job, token string, now time.Time) (finished, error) {
	keys := []string{keyJob(j.Shard, j.ID), keyDue(j.Shard), keyRetry(j.Shard, j.ID), keyMatch(j.Shard, j.ID),
		keyClaimed(j.Shard, j.ID), keyDone(j.Shard, j.ID)}
	res, err := finishScript.Run(ctx, q.rdb, keys, token, now.UnixMilli(), keepJob.Milliseconds(), j.ID).Slice()
	if err != nil {
		return finished{}, fmt.Errorf("finish web push job %s/%d: %w", j.ID, j.Shard, err)
	}
	n := func(i int) int64 { v, _ := res[i].(int64); return v }
	switch n(0) {
	case -1:
		return finished{}, errLeaseLost
	case 1:
		return finished{more: true, next: time.UnixMilli(n(1))}, nil
	}
	why, _ := res[2].(string)
	return finished{unsettled: n(1), why: why}, nil
}

// depth returns how many jobs wait or run, over every shard.
func (q *queue) depth(ctx context.Context, shards int) (int64, error) {
	cmds := make([]*redis.IntCmd, shards)
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sh := range shards {
			cmds[sh] = p.ZCard(ctx, keyDue(sh))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure web push queue: %w", err)
	}
	var total int64
	for _, c := range cmds {
		total += c.Val()
	}
	return total, nil
}
