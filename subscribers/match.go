package subscribers

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// audienceScript computes, in bitmaps, the readers an alert reaches.
// KEYS[1] routes the script to the {readers} slot; KEYS[2..] are the index
// bitmaps, in ARGV[3] groups whose sizes follow in ARGV[4..]: the audience
// is the AND of each group's OR. After the groups come the quiet-hours
// bitmaps to leave out (their count after the group sizes); readers paused
// at ARGV[1] (ms) are left out too: the pausing bitmap less those whose
// pause ended by then, which Sweep keeps few. ARGV[2] is "count" for the number or
// "list" for the bitmap itself.
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
local out = 0
if ARGV[2] == 'list' then
  out = ''
  if found then
    out = redis.call('GET', a) or ''
  end
elseif found then
  out = redis.call('BITCOUNT', a)
end
redis.call('DEL', a, b, x)
return out
`)

// audienceGroups lists, per dimension, the index bitmaps of readers that
// accept an alert with attributes a: the "any" bitmap and one per value.
func audienceGroups(a flashwire.Attrs) [][]string {
	dim := func(name string, values []string) []string {
		g := []string{readersPrefix + "any-" + name}
		for _, v := range flashwire.NormalizeSlugs(values) {
			if flashwire.ValidSlug(v) {
				g = append(g, readersPrefix+name+":"+v)
			}
		}
		return g
	}
	var lang []string
	if base := flashwire.PrimaryLanguage(a.Language); base != "" {
		lang = []string{base}
	}
	prio := []string{readersPrefix + "prio:any"}
	for _, p := range []flashwire.Priority{flashwire.Normal, flashwire.Urgent, flashwire.Flash} {
		if p.Rank() <= a.Priority.Rank() {
			prio = append(prio, readersPrefix+"prio:"+string(p))
		}
	}
	return [][]string{dim("topic", a.Topics), dim("region", a.Regions), dim("lang", lang), prio}
}

// quietKeys returns the quiet-hours bitmaps whose readers are quiet at now
// for an alert of a's priority. The specs in use are read first and the
// bitmaps combined after, so a reader whose quiet hours change in between
// may be counted by their old ones.
func (s *Store) quietKeys(ctx context.Context, a flashwire.Attrs, now time.Time) ([]string, error) {
	specs, err := s.rdb.HKeys(ctx, readersPrefix+"quiet-specs").Result()
	if err != nil {
		return nil, fmt.Errorf("load quiet hours in use: %w", err)
	}
	var keys []string
	for _, spec := range specs {
		q, ok := parseQuietSpec(spec)
		if ok && q.Quiet(now) && !(a.Priority == "flash" && q.AllowFlash) {
			keys = append(keys, readersPrefix+"quiet:"+spec)
		}
	}
	return keys, nil
}

func (s *Store) runAudience(ctx context.Context, a flashwire.Attrs, now time.Time, mode string) (any, error) {
	quiet, err := s.quietKeys(ctx, a, now)
	if err != nil {
		return nil, err
	}
	groups := audienceGroups(a)
	keys := []string{readersPrefix + "tmp:a"}
	args := []any{now.UnixMilli(), mode, len(groups)}
	for _, g := range groups {
		keys = append(keys, g...)
		args = append(args, len(g))
	}
	keys = append(keys, quiet...)
	args = append(args, len(quiet))
	res, err := audienceScript.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("match readers: %w", err)
	}
	return res, nil
}

// CountAudience returns how many stored readers and active partners an
// alert with attributes a, published at now, would reach. Readers are
// counted by set algebra on the Redis indexes, never by a scan.
func (s *Store) CountAudience(ctx context.Context, a flashwire.Attrs, now time.Time) (readers, partners int64, err error) {
	res, err := s.runAudience(ctx, a, now, "count")
	if err != nil {
		return 0, 0, err
	}
	readers, _ = res.(int64)
	ps, err := s.MatchPartners(ctx, flashwire.Published, a, now)
	if err != nil {
		return 0, 0, err
	}
	return readers, int64(len(ps)), nil
}

// MatchReaders returns the ids of the stored readers an alert with
// attributes a, published at now, would reach, in no particular order.
func (s *Store) MatchReaders(ctx context.Context, a flashwire.Attrs, now time.Time) ([]string, error) {
	res, err := s.runAudience(ctx, a, now, "list")
	if err != nil {
		return nil, err
	}
	bitmap, _ := res.(string)
	var slots []string
	for i := 0; i < len(bitmap); i++ {
		// Redis numbers a bitmap's bits from the most significant bit of
		// the first byte.
		for b := bitmap[i]; b != 0; {
			bit := bits.LeadingZeros8(b)
			slots = append(slots, strconv.Itoa(i*8+bit))
			b &^= 0x80 >> bit
		}
	}
	// Slots become ids in pipelines of bounded HMGETs: few round trips,
	// and no single command that holds Redis for long.
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
				cmds = append(cmds, p.HMGet(ctx, readersPrefix+"ids", slots[:n]...))
				slots = slots[n:]
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("match readers: %w", err)
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
