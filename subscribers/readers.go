package subscribers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// ReaderTTL is how long a reader who is never seen again is kept: each
// touch starts it afresh.
const ReaderTTL = 180 * 24 * time.Hour

// Reader is an anonymous reader's stored preferences. Its ID is a 128-bit
// capability: whoever knows it may read and change the preferences.
type Reader struct {
	ID string `json:"id"`
	Preferences
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// NewReaderID returns a fresh random reader id: 32 hex digits.
func NewReaderID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ParseReaderID returns the canonical form of a reader id (32 lower-case
// hex digits; a UUID loses its hyphens), or an error naming the field "id".
func ParseReaderID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 || strings.Trim(s, "0123456789abcdef") != "" {
		return "", flashwire.Invalid("id", "must be 32 hex digits or a UUID")
	}
	// An id of one repeated digit is a guess, not a random capability.
	if strings.Count(s, s[:1]) == len(s) {
		return "", flashwire.Invalid("id", "must be random, not one repeated digit")
	}
	return s, nil
}

// readerKey is the record of reader id, in the shard the id hashes to.
func (s *Store) readerKey(id string) string { return s.shard(id).key("reader:" + id) }

// readerIndexKeys lists the index bitmaps of shard sh a reader with
// preferences p belongs to, and the quiet-hours spec ("" for none). Every
// dimension puts each reader in exactly one "any" bitmap or in one or more
// value bitmaps. A reader with a pause set, over or not, is in "pausing";
// the sorted set "paused" says until when, and Sweep forgets pauses that
// are over, so that an audience leaves out the pausing readers less the few
// whose pause ended since.
func readerIndexKeys(sh shard, p Preferences) (keys []string, spec string) {
	keys = appendDimension(keys, sh, "topic", p.Topics)
	keys = appendDimension(keys, sh, "region", p.Regions)
	var bases []string
	for _, l := range p.Languages {
		bases = append(bases, flashwire.PrimaryLanguage(l))
	}
	keys = appendDimension(keys, sh, "lang", flashwire.NormalizeSlugs(bases))
	min := string(p.MinPriority)
	if p.MinPriority.Rank() == 0 {
		min = "any"
	}
	keys = append(keys, sh.key("prio:"+min))
	if q := p.QuietHours; q != nil {
		spec = quietSpec(*q)
		keys = append(keys, sh.key("quiet:"+spec))
	}
	if p.PausedUntil != nil {
		keys = append(keys, sh.key("pausing"))
	}
	return keys, spec
}

func appendDimension(keys []string, sh shard, dim string, values []string) []string {
	if len(values) == 0 {
		return append(keys, sh.key("any-"+dim))
	}
	for _, v := range values {
		keys = append(keys, sh.key(dim+":"+v))
	}
	return keys
}

// quietSpec names a set of quiet hours; readers sharing one share a bitmap.
func quietSpec(q QuietHours) string {
	allow := "none"
	if q.AllowFlash {
		allow = "flash"
	}
	return q.TZ + "|" + q.Start + "|" + q.End + "|" + allow
}

func parseQuietSpec(spec string) (QuietHours, bool) {
	f := strings.Split(spec, "|")
	if len(f) != 4 {
		return QuietHours{}, false
	}
	return QuietHours{TZ: f[0], Start: f[1], End: f[2], AllowFlash: f[3] == "flash"}, true
}

// capStep is how many slots the index bitmaps grow by at a time: 8 KiB.
const capStep = "65536"

// luaPrelude is shared by the reader scripts. P is the key prefix of the
// shard KEYS[1] belongs to: every script works in one shard. clear(idx,
// keepPush) takes a reader's bit out of every index bitmap (the set
// "indexes" lists them all), which works even when the reader's record has
// already expired; a quiet-hours bitmap whose last reader leaves is
// deleted. keepPush leaves the push-subscription bitmaps alone, for a
// change of preferences. release(idx) frees the slot and forgets its push
// subscriptions. The scripts touch keys of the shard's slot beyond those
// they declare, which Redis Cluster allows within one slot.
const luaPrelude = `
local P = string.match(KEYS[1], '^(.-}:)')
local QP = P .. 'quiet:'
local PP = P .. 'pushn:'
local function clear(idx, keepPush)
  for _, k in ipairs(redis.call('SMEMBERS', P .. 'indexes')) do
    local isPush = string.sub(k, 1, #PP) == PP or k == P .. 'push-any'
    if not (keepPush and isPush) and redis.call('GETBIT', k, idx) == 1 then
      redis.call('SETBIT', k, idx, 0)
      if string.sub(k, 1, #QP) == QP then
        local spec = string.sub(k, #QP + 1)
        if redis.call('HINCRBY', P .. 'quiet-specs', spec, -1) <= 0 then
          redis.call('HDEL', P .. 'quiet-specs', spec)
          redis.call('DEL', k)
          redis.call('SREM', P .. 'indexes', k)
        end
      end
    end
  end
end
-- Every index bitmap is kept as long as the slot capacity (a multiple of
-- capStep bits), so that BITOP always takes its fast word-at-a-time path,
-- which it leaves for the slow byte loop when the bitmaps' lengths differ.
local function capacity()
  return tonumber(redis.call('GET', P .. 'cap') or '0')
end
local function extend(k, cap)
  if cap > 0 and redis.call('STRLEN', k) < cap / 8 then
    redis.call('SETBIT', k, cap - 1, 0)
  end
end
local function allocate()
  local idx = redis.call('SPOP', P .. 'free')
  if idx then
    return idx
  end
  local n = redis.call('INCR', P .. 'next') - 1
  local cap = capacity()
  if n >= cap then
    cap = (math.floor(n / ` + capStep + `) + 1) * ` + capStep + `
    redis.call('SET', P .. 'cap', cap)
    for _, k in ipairs(redis.call('SMEMBERS', P .. 'indexes')) do
      extend(k, cap)
    end
  end
  return tostring(n)
end
-- A reader's record is one string, "slot|created|seen|preferences JSON":
-- a hash would leave Redis's compact encoding once the JSON passes 64
-- bytes, at over twice the memory.
local function record(k)
  local v = redis.call('GET', k)
  if not v then
    return nil
  end
  local idx, created, seen, prefs = string.match(v, '^(%d+)|(%d+)|(%d+)|(.*)$')
  return idx, created, seen, prefs
end
local function release(idx)
  redis.call('HDEL', P .. 'ids', idx)
  redis.call('ZREM', P .. 'seen', idx)
  redis.call('ZREM', P .. 'paused', idx)
  redis.call('HDEL', P .. 'push', idx)
  redis.call('SADD', P .. 'free', idx)
end
`

// saveScript creates or replaces a reader. KEYS[1] is the record, KEYS[2..]
// the index bitmaps it belongs to; ARGV: id, preferences JSON, now (ms),
// TTL (ms), paused-until (ms or ""), quiet spec (or ""), and for a copy
// from the unsharded layout (see migrate.go) its creation time (ms or "")
// and "nx" to leave an existing reader as it is.
var saveScript = redis.NewScript(luaPrelude + `
local rec = KEYS[1]
local id, prefs, now, ttl, paused, spec = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local idx, created = record(rec)
local isNew = 0
if idx then
  if ARGV[8] == 'nx' then
    return {0, created}
  end
  clear(idx, true)
else
  isNew = 1
  idx, created = allocate(), now
  if ARGV[7] and ARGV[7] ~= '' then
    created = ARGV[7]
  end
  redis.call('HSET', P .. 'ids', idx, id)
end
local cap = capacity()
for i = 2, #KEYS do
  redis.call('SETBIT', KEYS[i], idx, 1)
  extend(KEYS[i], cap)
  redis.call('SADD', P .. 'indexes', KEYS[i])
end
if spec ~= '' then
  redis.call('HINCRBY', P .. 'quiet-specs', spec, 1)
end
if paused ~= '' then
  redis.call('ZADD', P .. 'paused', paused, idx)
else
  redis.call('ZREM', P .. 'paused', idx)
end
redis.call('SET', rec, idx .. '|' .. created .. '|' .. now .. '|' .. prefs, 'PX', ttl)
redis.call('ZADD', P .. 'seen', now, idx)
return {isNew, created}
`)

// deleteScript removes the reader whose record is KEYS[1].
var deleteScript = redis.NewScript(luaPrelude + `
local idx = record(KEYS[1])
if not idx then
  return 0
end
clear(idx, false)
release(idx)
redis.call('DEL', KEYS[1])
return 1
`)

// touchScript records that the reader whose record is KEYS[1] was seen at
// ARGV[1] (ms) and keeps it ARGV[2] ms more.
var touchScript = redis.NewScript(luaPrelude + `
local idx, created, _, prefs = record(KEYS[1])
if not idx then
  return 0
end
redis.call('SET', KEYS[1], idx .. '|' .. created .. '|' .. ARGV[1] .. '|' .. prefs, 'PX', ARGV[2])
redis.call('ZADD', P .. 'seen', ARGV[1], idx)
return 1
`)

// sweepScript removes up to ARGV[3] readers last seen at or before ARGV[1]
// (ms), whose records have expired, from every index, and forgets pauses
// over by ARGV[2] (ms), which keeps the audience script's work small.
// KEYS[1] is the last-seen index.
var sweepScript = redis.NewScript(luaPrelude + `
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, idx in ipairs(stale) do
  local id = redis.call('HGET', P .. 'ids', idx)
  if id then
    local rec = P .. 'reader:' .. id
    if record(rec) == idx then
      redis.call('DEL', rec)
    end
  end
  clear(idx, false)
  release(idx)
end
for _, idx in ipairs(redis.call('ZRANGEBYSCORE', P .. 'paused', '-inf', ARGV[2])) do
  redis.call('SETBIT', P .. 'pausing', idx, 0)
  redis.call('ZREM', P .. 'paused', idx)
end
return #stale
`)

// errNoReader answers every look-up of an unknown reader id in the same
// plain words: the id is the caller's own capability, and there is nothing
// more to say about one that does not exist.
var errNoReader = flashwire.NewError(flashwire.ErrNotFound, "no reader has this id")

// MaxPause is how far ahead a reader may pause alerts: a pause is for a
// holiday; stopping for good is deleting the preferences.
const MaxPause = 366 * 24 * time.Hour

// CheckPreferences normalizes p and returns an *flashwire.InvalidError naming every
// field at fault, or nil.
func (s *Store) CheckPreferences(ctx context.Context, p *Preferences) error {
	err := s.check(ctx, p)
	if p.PausedUntil == nil || !p.PausedUntil.After(s.Now().Add(MaxPause)) {
		return err
	}
	bad := &flashwire.InvalidError{}
	if err != nil && !errors.As(err, &bad) {
		return err
	}
	bad.Add("paused_until", "is more than a year ahead; a pause lasts at most %d days", int(MaxPause.Hours()/24))
	return bad
}

// PutReader stores p as the preferences of the reader id, creating the
// reader when it is new (created is then true). The record and every index
// change in one script: nothing is half-written.
func (s *Store) PutReader(ctx context.Context, id string, p Preferences) (r Reader, created bool, err error) {
	id, err = ParseReaderID(id)
	if err != nil {
		return Reader{}, false, err
	}
	if err := s.CheckPreferences(ctx, &p); err != nil {
		return Reader{}, false, err
	}
	data, err := encodePreferences(p)
	if err != nil {
		return Reader{}, false, fmt.Errorf("encode reader preferences: %w", err)
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	paused := ""
	if p.PausedUntil != nil {
		paused = strconv.FormatInt(p.PausedUntil.UnixMilli(), 10)
	}
	index, spec := readerIndexKeys(s.shard(id), p)
	keys := append([]string{s.readerKey(id)}, index...)
	res, err := saveScript.Run(ctx, s.rdb, keys, id, data, now.UnixMilli(), ReaderTTL.Milliseconds(), paused, spec, "", "").Slice()
	if err != nil {
		return Reader{}, false, fmt.Errorf("save reader: %w", err)
	}
	if len(res) != 2 {
		return Reader{}, false, fmt.Errorf("save reader: unexpected reply %v", res)
	}
	createdMS, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
	r = Reader{ID: id, Preferences: p, CreatedAt: time.UnixMilli(createdMS).UTC(), LastSeen: now}
	return r, res[0] == int64(1), nil
}

// Reader returns the reader with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) Reader(ctx context.Context, id string) (Reader, error) {
	id, err := ParseReaderID(id)
	if err != nil {
		return Reader{}, err
	}
	v, err := s.rdb.Get(ctx, s.readerKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return Reader{}, errNoReader
	}
	if err != nil {
		return Reader{}, fmt.Errorf("load reader: %w", err)
	}
	f := strings.SplitN(v, "|", 4)
	if len(f) != 4 {
		return Reader{}, fmt.Errorf("decode reader: malformed record")
	}
	r := Reader{ID: id, CreatedAt: msTime(f[1]), LastSeen: msTime(f[2])}
	if r.Preferences, err = decodePreferences(f[3]); err != nil {
		return Reader{}, fmt.Errorf("decode reader: %w", err)
	}
	return r, nil
}

func decodePreferences(data string) (Preferences, error) {
	var stored storedPreferences
	if err := json.Unmarshal([]byte(data), &stored); err != nil {
		return Preferences{}, err
	}
	return stored.preferences(), nil
}

// storedPreferences is Preferences as a reader's record keeps them: short
// names, empty fields left out, since a million records add up.
type storedPreferences struct {
	Topics      []string           `json:"t,omitempty"`
	Regions     []string           `json:"r,omitempty"`
	Languages   []string           `json:"l,omitempty"`
	MinPriority flashwire.Priority `json:"p,omitempty"`
	QuietHours  *QuietHours        `json:"q,omitempty"`
	PausedUntil *time.Time         `json:"u,omitempty"`
}

func encodePreferences(p Preferences) ([]byte, error) {
	return json.Marshal(storedPreferences(p))
}

// preferences gives back the preferences with empty lists, not nil, as
// Normalize leaves them.
func (s storedPreferences) preferences() Preferences {
	p := Preferences(s)
	for _, l := range []*[]string{&p.Topics, &p.Regions, &p.Languages} {
		if *l == nil {
			*l = []string{}
		}
	}
	return p
}

func msTime(s string) time.Time {
	ms, _ := strconv.ParseInt(s, 10, 64)
	return time.UnixMilli(ms).UTC()
}

// TouchReader records that the reader was seen now, which keeps it another
// ReaderTTL. It returns an error wrapping ErrNotFound for an unknown id.
func (s *Store) TouchReader(ctx context.Context, id string) error {
	id, err := ParseReaderID(id)
	if err != nil {
		return err
	}
	now := s.Now().UTC().UnixMilli()
	n, err := touchScript.Run(ctx, s.rdb, []string{s.readerKey(id)}, now, ReaderTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("touch reader: %w", err)
	}
	if n == 0 {
		return errNoReader
	}
	return nil
}

// DeleteReader forgets the reader and takes it out of every index. It
// returns an error wrapping ErrNotFound for an unknown id.
func (s *Store) DeleteReader(ctx context.Context, id string) error {
	id, err := ParseReaderID(id)
	if err != nil {
		return err
	}
	n, err := deleteScript.Run(ctx, s.rdb, []string{s.readerKey(id)}).Int()
	if err != nil {
		return fmt.Errorf("delete reader: %w", err)
	}
	if n == 0 {
		return errNoReader
	}
	return nil
}

// sweepBatch bounds the work of one sweep script, which checks every index
// bitmap for each reader it removes, so that Redis never stalls for long.
const sweepBatch = 100

// Sweep takes readers not seen for ReaderTTL before now out of every index
// (their records expire by themselves) and forgets pauses that are over. It
// returns how many readers it removed. Any instance may run it at any time.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.Add(-ReaderTTL).UnixMilli()
	total := 0
	for _, sh := range s.shards() {
		for {
			n, err := sweepScript.Run(ctx, s.rdb, []string{sh.key("seen")}, cutoff, now.UnixMilli(), sweepBatch).Int()
			if err != nil {
				return total, fmt.Errorf("sweep readers of shard %d: %w", sh, err)
			}
			total += n
			if n < sweepBatch {
				break
			}
		}
	}
	return total, nil
}

// RunSweeper calls Sweep every interval until ctx ends, logging nothing:
// errors go to onError when it is not nil.
func (s *Store) RunSweeper(ctx context.Context, every time.Duration, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx, s.Now()); err != nil && onError != nil && !errors.Is(err, context.Canceled) {
				onError(err)
			}
		}
	}
}
