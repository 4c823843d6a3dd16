package subscribers

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// MaxPushPerReader is how many push subscriptions a reader keeps, one per
// browser: a new one beyond it replaces the reader's oldest.
const MaxPushPerReader = 8

// PushSubscription is a browser's Web Push subscription (the JSON of the
// Push API's PushSubscription): where to send, and the keys that encrypt
// for that browser alone.
type PushSubscription struct {
	// ID names the subscription within its reader: fixed by the endpoint,
	// so subscribing the same browser again replaces it.
	ID        string    `json:"id"`
	Endpoint  string    `json:"endpoint"`
	Keys      PushKeys  `json:"keys"`
	CreatedAt time.Time `json:"created_at"`
}

// PushKeys are a subscription's keys, base64url without padding: the
// browser's P-256 public key (65 bytes, uncompressed) and its 16-byte
// authentication secret.
type PushKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// PushTarget is a stored subscription as the sender walks them: where it
// sits in the reader index. Bit is its place in a per-shard bitmap of
// subscriptions, Slot*MaxPushPerReader + its position within the reader,
// which stays put while the subscription exists.
type PushTarget struct {
	PushSubscription
	Shard, Slot, Bit int
}

// PushID returns the id of the subscription with the given endpoint.
func PushID(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return hex.EncodeToString(sum[:8])
}

// Normalize trims the fields and drops base64 padding from the keys.
func (p *PushSubscription) Normalize() {
	p.Endpoint = strings.TrimSpace(p.Endpoint)
	p.Keys.P256dh = strings.TrimRight(strings.TrimSpace(p.Keys.P256dh), "=")
	p.Keys.Auth = strings.TrimRight(strings.TrimSpace(p.Keys.Auth), "=")
	p.ID = PushID(p.Endpoint)
}

// Validate records every problem with the subscription in bad: the
// endpoint must be an https URL without credentials or spaces, p256dh a
// point of the P-256 curve in uncompressed form, auth 16 bytes, both
// base64url. Where the endpoint may point (no internal addresses) is the
// sender's policy, checked by its caller.
func (p *PushSubscription) Validate(bad *flashwire.InvalidError) {
	switch {
	case p.Endpoint == "":
		bad.Add("endpoint", "is required")
	case flashwire.CheckWebURL(p.Endpoint) != "":
		bad.Add("endpoint", "%s", flashwire.CheckWebURL(p.Endpoint))
	case strings.ContainsFunc(p.Endpoint, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		bad.Add("endpoint", "contains spaces or control characters")
	default:
		u, _ := url.Parse(p.Endpoint)
		if u.Scheme != "https" {
			bad.Add("endpoint", "must be an https URL, as push services give")
		}
	}
	if key, err := base64.RawURLEncoding.DecodeString(p.Keys.P256dh); err != nil {
		bad.Add("keys.p256dh", "is not base64url")
	} else if _, err := ecdh.P256().NewPublicKey(key); err != nil || len(key) != 65 {
		bad.Add("keys.p256dh", "is not an uncompressed P-256 public key (65 bytes)")
	}
	if auth, err := base64.RawURLEncoding.DecodeString(p.Keys.Auth); err != nil {
		bad.Add("keys.auth", "is not base64url")
	} else if len(auth) != 16 {
		bad.Add("keys.auth", "is %d bytes; the authentication secret is 16", len(auth))
	}
}

// pushLua is shared by the push scripts. A reader's subscriptions are one
// field of the shard's hash "push", keyed by slot: lines of "POS ID
// CREATED ENDPOINT P256DH AUTH" (no field holds a space). setCount keeps
// the bit planes pushn:0..3 (bit i of how many the reader holds) and
// push-any (holds one or more), which let an audience count subscriptions
// by bitmaps alone.
const pushLua = `
local function entries(idx)
  local out = {}
  for line in string.gmatch(redis.call('HGET', P .. 'push', idx) or '', '[^\n]+') do
    local pos, id, created = string.match(line, '^(%d+) (%S+) (%d+) ')
    out[#out + 1] = {pos = pos, id = id, created = tonumber(created), line = line}
  end
  return out
end
local function setBit(k, idx, v)
  redis.call('SETBIT', k, idx, v)
  extend(k, capacity())
  redis.call('SADD', P .. 'indexes', k)
end
local function store(idx, list)
  local lines = {}
  for _, e in ipairs(list) do
    lines[#lines + 1] = e.line
  end
  if #lines == 0 then
    redis.call('HDEL', P .. 'push', idx)
  else
    redis.call('HSET', P .. 'push', idx, table.concat(lines, '\n'))
  end
  local n = #lines
  for i = 0, 3 do
    setBit(PP .. i, idx, math.floor(n / (2 ^ i)) % 2)
  end
  if n > 0 then
    setBit(P .. 'push-any', idx, 1)
  else
    setBit(P .. 'push-any', idx, 0)
  end
end
`

// addPushScript adds or replaces a subscription of the reader whose record
// is KEYS[1]. ARGV: id, endpoint, p256dh, auth, now (ms), most kept.
// Returns {1 when new (0 when it replaced the same endpoint), position,
// created (ms)}, or {-1} when the reader does not exist.
var addPushScript = redis.NewScript(luaPrelude + pushLua + `
local idx = record(KEYS[1])
if not idx then
  return {-1}
end
local id, most = ARGV[1], tonumber(ARGV[6])
local list, used = {}, {}
local pos, created, isNew = nil, ARGV[5], 1
for _, e in ipairs(entries(idx)) do
  if e.id == id then
    pos, created, isNew = e.pos, tostring(e.created), 0
  else
    list[#list + 1] = e
    used[e.pos] = true
  end
end
if not pos then
  for i = 0, most - 1 do
    if not used[tostring(i)] then
      pos = tostring(i)
      break
    end
  end
end
if not pos then
  local oldest = 1
  for i, e in ipairs(list) do
    if e.created < list[oldest].created then
      oldest = i
    end
  end
  pos = list[oldest].pos
  table.remove(list, oldest)
end
list[#list + 1] = {line = pos .. ' ' .. id .. ' ' .. created .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4]}
store(idx, list)
return {isNew, tonumber(pos), tonumber(created)}
`)

// removePushScript removes subscription ARGV[2] of a reader: the one whose
// record is KEYS[1] when ARGV[1] is "", else the one in slot ARGV[1] of
// the shard KEYS[1] belongs to. Returns 1 when removed, 0 when there was
// no such subscription, -1 when there is no such reader.
var removePushScript = redis.NewScript(luaPrelude + pushLua + `
local idx = ARGV[1]
if idx == '' then
  idx = record(KEYS[1])
  if not idx then
    return -1
  end
end
local list, found = {}, 0
for _, e in ipairs(entries(idx)) do
  if e.id == ARGV[2] then
    found = 1
  else
    list[#list + 1] = e
  end
end
if found == 1 then
  store(idx, list)
end
return found
`)

// AddPush stores sub for the reader id, replacing a subscription of the
// same endpoint (created is then false) and, past MaxPushPerReader, the
// reader's oldest. sub must have passed Validate. It returns an error
// wrapping ErrNotFound for an unknown reader.
func (s *Store) AddPush(ctx context.Context, readerID string, sub PushSubscription) (_ PushSubscription, created bool, err error) {
	readerID, err = ParseReaderID(readerID)
	if err != nil {
		return PushSubscription{}, false, err
	}
	sub.Normalize()
	var bad flashwire.InvalidError
	sub.Validate(&bad)
	if err := bad.Err(); err != nil {
		return PushSubscription{}, false, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	res, err := addPushScript.Run(ctx, s.rdb, []string{s.readerKey(readerID)},
		sub.ID, sub.Endpoint, sub.Keys.P256dh, sub.Keys.Auth, now.UnixMilli(), MaxPushPerReader).Int64Slice()
	if err != nil {
		return PushSubscription{}, false, fmt.Errorf("add push subscription: %w", err)
	}
	if res[0] == -1 {
		return PushSubscription{}, false, fmt.Errorf("add push subscription: reader %w", flashwire.ErrNotFound)
	}
	sub.CreatedAt = time.UnixMilli(res[2]).UTC()
	return sub, res[0] == 1, nil
}

// RemovePush removes the reader's subscription with the given id (see
// PushID); its error wraps ErrNotFound when the reader or the subscription
// does not exist.
func (s *Store) RemovePush(ctx context.Context, readerID, id string) error {
	readerID, err := ParseReaderID(readerID)
	if err != nil {
		return err
	}
	n, err := removePushScript.Run(ctx, s.rdb, []string{s.readerKey(readerID)}, "", id).Int()
	if err != nil {
		return fmt.Errorf("remove push subscription: %w", err)
	}
	switch n {
	case -1:
		return fmt.Errorf("remove push subscription: reader %w", flashwire.ErrNotFound)
	case 0:
		return fmt.Errorf("remove push subscription: %w", flashwire.ErrNotFound)
	}
	return nil
}

// DropPush removes the subscription a push service said is gone (404 or
// 410): t as PushSubscriptions found it. A subscription already gone, or a
// slot that changed hands since, is left alone, which the id ensures.
func (s *Store) DropPush(ctx context.Context, t PushTarget) error {
	sh := shard(t.Shard)
	if err := removePushScript.Run(ctx, s.rdb, []string{sh.key("push")}, t.Slot, t.ID).Err(); err != nil {
		return fmt.Errorf("drop push subscription %s: %w", t.ID, err)
	}
	return nil
}

// ReaderPush returns the reader's subscriptions, oldest first; an unknown
// reader has none.
func (s *Store) ReaderPush(ctx context.Context, readerID string) ([]PushSubscription, error) {
	readerID, err := ParseReaderID(readerID)
	if err != nil {
		return nil, err
	}
	v, err := s.rdb.Get(ctx, s.readerKey(readerID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load reader: %w", err)
	}
	slot, _, _ := strings.Cut(v, "|")
	n, _ := strconv.Atoi(slot)
	sh := s.shard(readerID)
	targets, err := s.PushSubscriptions(ctx, int(sh), []int{n})
	if err != nil {
		return nil, err
	}
	out := make([]PushSubscription, len(targets))
	for i, t := range targets {
		out[i] = t.PushSubscription
	}
	return out, nil
}

// PushSubscriptions returns the subscriptions of the readers in the given
// slots of shard sh, in slot order: HMGETs of 1,000 slots, pipelined.
func (s *Store) PushSubscriptions(ctx context.Context, sh int, slots []int) ([]PushTarget, error) {
	key := shard(sh).key("push")
	var out []PushTarget
	const perCommand = 1000
	var cmds []*redis.SliceCmd
	var groups [][]int
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for rest := slots; len(rest) > 0; {
			n := min(perCommand, len(rest))
			fields := make([]string, n)
			for i, slot := range rest[:n] {
				fields[i] = strconv.Itoa(slot)
			}
			cmds = append(cmds, p.HMGet(ctx, key, fields...))
			groups = append(groups, rest[:n])
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load push subscriptions of shard %d: %w", sh, err)
	}
	for g, c := range cmds {
		for i, v := range c.Val() {
			text, ok := v.(string)
			if !ok {
				continue
			}
			slot := groups[g][i]
			for _, line := range strings.Split(text, "\n") {
				f := strings.Split(line, " ")
				if len(f) != 6 {
					continue
				}
				pos, _ := strconv.Atoi(f[0])
				created, _ := strconv.ParseInt(f[2], 10, 64)
				out = append(out, PushTarget{
					PushSubscription: PushSubscription{ID: f[1], Endpoint: f[3], Keys: PushKeys{P256dh: f[4], Auth: f[5]},
						CreatedAt: time.UnixMilli(created).UTC()},
					Shard: sh, Slot: slot, Bit: slot*MaxPushPerReader + pos,
				})
			}
		}
	}
	return out, nil
}

// MatchPush returns, for shard sh, the readers an alert with attributes a,
// published at now, reaches and who hold a push subscription, as a bitmap
// of their slots (see Slots), and how many subscriptions they hold.
func (s *Store) MatchPush(ctx context.Context, sh int, a flashwire.Attrs, now time.Time) (bitmap []byte, subscriptions int64, err error) {
	quiet, err := s.quietKeys(ctx, []shard{shard(sh)}, a, now)
	if err != nil {
		return nil, 0, err
	}
	res, err := s.runAudience(ctx, shard(sh), a, now, quiet[shard(sh)], "push")
	if err != nil {
		return nil, 0, err
	}
	r, _ := res.([]any)
	if len(r) == 0 {
		return nil, 0, nil
	}
	if b, ok := r[0].(string); ok {
		bitmap = []byte(b)
	}
	return bitmap, pushCount(r), nil
}
