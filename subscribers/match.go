package subscribers

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// audienceScript computes, in bitmaps, the readers of one shard an alert
// reaches. KEYS[1] is the shard's scratch key tmp:a (it routes the script to
// the shard's slot); KEYS[2..] are the index bitmaps, in ARGV[3] groups
// whose sizes follow in ARGV[4..]: the audience is the AND of each group's
// OR. After the groups come the quiet-hours bitmaps to leave out (their
// count after the group sizes); readers paused at ARGV[1] (ms) are left out
// too: the pausing bitmap less those whose pause ended by then, which Sweep
// keeps few. ARGV[2] says what to return:
//
//	count  {readers, n0, n1, n2, n3}
//	list   the audience bitmap
//	push   {the bitmap of the audience's readers with a push subscription, n0, n1, n2, n3}
//
// where ni counts the audience's readers whose number of push
// subscriptions has bit i set (the bit planes pushn:0..3, see push.go), so
// that the subscriptions number n0 + 2 n1 + 4 n2 + 8 n3.
var audienceScript = redis.NewScript(luaPrelude + `
local a, b, x = P .. 'tmp:a', P .. 'tmp:b', P .. 'tmp:x'
local ki = 2
local function take(n)
  local ks = {}
  for j = 1, n do
    ks[j] = KEYS[ki]
    ki = ki + 1
  end
  return ks
end
-- orInto sets dest to the OR of the existing keys among ks, 15 at a time
-- (BITOP's fast path takes at most 16 keys, all present), and reports
-- whether any existed.
local function orInto(dest, ks)
  local have = {}
  for _, k in ipairs(ks) do
    if redis.call('EXISTS', k) == 1 then
      have[#have + 1] = k
    end
  end
  redis.call('DEL', dest)
  for i = 1, #have, 15 do
    local chunk = {}
    if i > 1 then
      chunk[1] = dest
    end
    for j = i, math.min(i + 14, #have) do
      chunk[#chunk + 1] = have[j]
    end
    redis.call('BITOP', 'OR', dest, unpack(chunk))
  end
  return #have > 0
end
local groups = tonumber(ARGV[3])
local found = true
for i = 1, groups do
  local ks = take(tonumber(ARGV[3 + i]))
  if found then
    if i == 1 then
      found = orInto(a, ks)
    elseif orInto(b, ks) then
      redis.call('BITOP', 'AND', a, a, b)
    else
      found = false
    end
  end
end
local leave = take(tonumber(ARGV[4 + groups]))
if found and redis.call('EXISTS', P .. 'pausing') == 1 then
  local ended = redis.call('ZRANGEBYSCORE', P .. 'paused', '-inf', ARGV[1])
  if #ended == 0 then
    leave[#leave + 1] = P .. 'pausing'
  else
    redis.call('BITOP', 'OR', b, P .. 'pausing')
    for _, idx in ipairs(ended) do
      redis.call('SETBIT', b, idx, 0)
    end
    leave[#leave + 1] = b
  end
end
if found and orInto(x, leave) then
  redis.call('BITOP', 'AND', x, x, a)
  redis.call('BITOP', 'XOR', a, a, x)
end
local mode = ARGV[2]
if mode == 'push' and found then
  if redis.call('EXISTS', P .. 'push-any') == 1 then
    redis.call('BITOP', 'AND', a, a, P .. 'push-any')
  else
    found = false
  end
end
local out
if mode == 'list' then
  out = ''
  if found then
    out = redis.call('GET', a) or ''
  end
else
  out = {0, 0, 0, 0, 0}
  if found then
    if mode == 'push' then
      out[1] = redis.call('GET', a) or ''
    else
      out[1] = redis.call('BITCOUNT', a)
    end
    for i = 0, 3 do
      local k = PP .. i
      if redis.call('EXISTS', k) == 1 then
        redis.call('BITOP', 'AND', b, a, k)
        out[i + 2] = redis.call('BITCOUNT', b)
      end
    end
  end
end
redis.call('DEL', a, b, x)
return out
`)

// audienceGroups lists, per dimension, the index bitmaps of shard sh of
// readers that accept an alert with attributes a: the "any" bitmap and one
// per value. The region dimension is left out for an alert without regions.
func audienceGroups(sh shard, a flashwire.Attrs) [][]string {
	dim := func(name string, values []string) []string {
		g := []string{sh.key("any-" + name)}
		for _, v := range flashwire.NormalizeSlugs(values) {
			if flashwire.ValidSlug(v) {
				g = append(g, sh.key(name+":"+v))
			}
		}
		return g
	}
	var lang []string
	if base := flashwire.PrimaryLanguage(a.Language); base != "" {
		lang = []string{base}
	}
	prio := []string{sh.key("prio:any")}
	for _, p := range []flashwire.Priority{flashwire.Normal, flashwire.Urgent, flashwire.Flash} {
		if p.Rank() <= a.Priority.Rank() {
			prio = append(prio, sh.key("prio:"+string(p)))
		}
	}
	groups := [][]string{dim("topic", a.Topics), dim("lang", lang), prio}
	// An alert with no regions is for every region: the dimension does not
	// narrow its audience (Preferences.Matches says the same).
	if len(a.Regions) > 0 {
		groups = append(groups, dim("region", a.Regions))
	}
	return groups
}

// quietKeys returns, for each of the given shards, its quiet-hours
// bitmaps whose readers are quiet at now for an alert of a's priority. The
// specs in use are read in one pipelined round trip and each distinct spec
// judged once, whatever the number of shards; the bitmaps are combined
// after, so a reader whose quiet hours change in between may be counted by
// their old ones.
func (s *Store) quietKeys(ctx context.Context, shards []shard, a flashwire.Attrs, now time.Time) (map[shard][]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(shards))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sh := range shards {
			cmds[i] = p.HKeys(ctx, sh.key("quiet-specs"))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load quiet hours in use: %w", err)
	}
	judged := map[string]bool{}
	out := make(map[shard][]string, len(shards))
	for i, sh := range shards {
		for _, spec := range cmds[i].Val() {
			quiet, seen := judged[spec]
			if !seen {
				q, ok := parseQuietSpec(spec)
				quiet = ok && q.Quiet(now) && !(a.Priority == flashwire.Flash && q.AllowFlash)
				judged[spec] = quiet
			}
			if quiet {
				out[sh] = append(out[sh], sh.key("quiet:"+spec))
			}
		}
	}
	return out, nil
}

// runAudience runs the audience script on one shard, leaving out the
// readers of the quiet-hours bitmaps quiet; mode is count, list or push
// (see audienceScript).
func (s *Store) runAudience(ctx context.Context, sh shard, a flashwire.Attrs, now time.Time, quiet []string, mode string) (any, error) {
	groups := audienceGroups(sh, a)
	keys := []string{sh.key("tmp:a")}
	args := []any{now.UnixMilli(), mode, len(groups)}
	for _, g := range groups {
		keys = append(keys, g...)
		args = append(args, len(g))
	}
	keys = append(keys, quiet...)
	args = append(args, len(quiet))
	res, err := audienceScript.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("match readers of shard %d: %w", sh, err)
	}
	return res, nil
}

// eachShard runs fn on every shard, at most 32 at a time, and returns the
// first error. On a Redis Cluster the shards sit on different masters, so
// they are counted in parallel; on one Redis the calls share a round trip
// time instead of adding theirs up.
func (s *Store) eachShard(ctx context.Context, fn func(ctx context.Context, sh shard) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	sem := make(chan struct{}, 32)
	for _, sh := range s.shards() {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, sh); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// pushCount reads the counts the audience script returns after its first
// value: subscriptions by bit plane.
func pushCount(res []any) int64 {
	var n int64
	for i := 1; i < len(res) && i <= 4; i++ {
		v, _ := res[i].(int64)
		n += v << (i - 1)
	}
	return n
}

// Audience is how many an alert would reach.
type Audience struct {
	// Readers are the stored readers whose preferences accept the alert.
	Readers int64 `json:"readers"`
	// Partners are the active partners whose filters accept it.
	Partners int64 `json:"partners"`
	// Push is how many push subscriptions those readers hold: the Web Push
	// messages the alert would send.
	Push int64 `json:"push"`
}

// CountAudience returns how many stored readers, push subscriptions and
// active partners an alert with attributes a, published at now, would
// reach. Readers are counted by set algebra on the Redis indexes, shard by
// shard in parallel, never by a scan.
func (s *Store) CountAudience(ctx context.Context, a flashwire.Attrs, now time.Time) (Audience, error) {
	quiet, err := s.quietKeys(ctx, s.shards(), a, now)
	if err != nil {
		return Audience{}, err
	}
	var readers, push atomic.Int64
	err = s.eachShard(ctx, func(ctx context.Context, sh shard) error {
		res, err := s.runAudience(ctx, sh, a, now, quiet[sh], "count")
		if err != nil {
			return err
		}
		r, _ := res.([]any)
		if len(r) > 0 {
			n, _ := r[0].(int64)
			readers.Add(n)
		}
		push.Add(pushCount(r))
		return nil
	})
	if err != nil {
		return Audience{}, err
	}
	ps, err := s.MatchPartners(ctx, flashwire.Published, a, now)
	if err != nil {
		return Audience{}, err
	}
	return Audience{Readers: readers.Load(), Partners: int64(len(ps)), Push: push.Load()}, nil
}

// MatchReaders returns the ids of the stored readers an alert with
// attributes a, published at now, would reach, in no particular order.
func (s *Store) MatchReaders(ctx context.Context, a flashwire.Attrs, now time.Time) ([]string, error) {
	quiet, err := s.quietKeys(ctx, s.shards(), a, now)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var ids []string
	err = s.eachShard(ctx, func(ctx context.Context, sh shard) error {
		res, err := s.runAudience(ctx, sh, a, now, quiet[sh], "list")
		if err != nil {
			return err
		}
		bitmap, _ := res.(string)
		found, err := s.slotIDs(ctx, sh, Slots([]byte(bitmap)))
		if err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, found...)
		mu.Unlock()
		return nil
	})
	return ids, err
}

// Slots returns the slots whose bits are set in a bitmap, in order. Redis
// numbers a bitmap's bits from the most significant bit of the first byte.
func Slots(bitmap []byte) []int {
	var slots []int
	for i, c := range bitmap {
		for b := c; b != 0; {
			bit := bits.LeadingZeros8(b)
			slots = append(slots, i*8+bit)
			b &^= 0x80 >> bit
		}
	}
	return slots
}

// slotIDs turns slots of shard sh into reader ids, in pipelines of bounded
// HMGETs: few round trips, and no single command that holds Redis for long.
func (s *Store) slotIDs(ctx context.Context, sh shard, slots []int) ([]string, error) {
	ids := make([]string, 0, len(slots))
	const perCommand, perPipeline = 1000, 50
	for len(slots) > 0 {
		var cmds []*redis.SliceCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range perPipeline {
				if len(slots) == 0 {
					break
				}
				n := min(perCommand, len(slots))
				fields := make([]string, n)
				for i, slot := range slots[:n] {
					fields[i] = strconv.Itoa(slot)
				}
				cmds = append(cmds, p.HMGet(ctx, sh.key("ids"), fields...))
				slots = slots[n:]
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("match readers of shard %d: %w", sh, err)
		}
		for _, c := range cmds {
			for _, v := range c.Val() {
				// A reader deleted since the bitmap was taken has no id.
				if id, ok := v.(string); ok {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids, nil
}
