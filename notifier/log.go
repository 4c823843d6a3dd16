package notifier

import (
	"context"
	"crypto/sha256"
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

// Default retention of the log: an event is trimmed only once it is older
// than KeepFor and at least KeepCount newer events exist.
const (
	KeepFor   = 48 * time.Hour
	KeepCount = 10000
	// alertTTL bounds how long an alert's current state is kept for history.
	alertTTL = 30 * 24 * time.Hour
)

const (
	keyLog     = "flashwire:v1:{alerts}:log"
	keyTrimmed = "flashwire:v1:{alerts}:trimmed"
	keyIndex   = "flashwire:v1:{alerts}:index"
	keyAlert   = "flashwire:v1:{alerts}:alert:"
	// keyOnce + hash of a once key -> the id of the alert published under
	// it; kept as long as the alert's state (alertTTL), far beyond the
	// log's retention.
	keyOnce = "flashwire:v1:{alerts}:once:"
)

// appendScript adds an event to the log, stores the alert's current state,
// and trims what retention allows, all at once. An update's entry also
// keeps the state it replaces (field "before"), read in the same script so
// that two updates at once each see the version they replace: channels
// compare who the alert was for before with who it is for now.
//
// A new alert may carry a once key: when the key already names an alert,
// nothing is appended and that alert is returned with "1" as the third
// value, so a publish retried after a crash never sends twice. Checking and
// setting the key inside this script is what makes that hold across
// instances; the key shares the hash tag, so it is one script on Cluster.
//
// A publish also passes its guards (see luaGuards in guard.go): after the
// once key, before anything is appended, the script checks them, and
// answers {"", "", "0", "dup", OWNER} or {"", "", "0", "gap", MS LEFT}
// without appending when one refuses; otherwise it takes them for the new
// alert in the same step. A publish checked against an instance's copy of
// the taxonomy also passes the taxonomy's version key and the version it
// was checked at; before the guards, the script answers {"", "", "0",
// "taxonomy", VERSION} when the key holds another version.
//
// KEYS: log, trimmed, index, alert key prefix (a prefix: the alert key of a
// new alert is only known once XADD gave its id; it shares the hash tag),
// once key (unused when ARGV[7] is ""), then for a publish its dedupe and
// gap keys and, optionally, the taxonomy's version key.
// ARGV: type, alert JSON with "id" left empty for a new alert, keep ms,
// keep count, alert TTL seconds, alert id for updates ("" for new), "1"
// when KEYS[5] is a once key, once key TTL seconds, then for a publish
// the guards' now ms, dedupe window ms, gap ms and force flag, and with the
// version key the taxonomy version checked at.
// Returns {event id, alert JSON, "1" for a repeat or "0"}.
var appendScript = redis.NewScript(luaGuards + `
local now = redis.call('TIME')
local nowms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local id = ARGV[6]
local body = ARGV[2]
local eid
if id == '' and ARGV[7] == '1' then
  local prev = redis.call('GET', KEYS[5])
  if prev then
    return {prev, redis.call('GET', KEYS[4] .. prev) or '', '1'}
  end
end
local guarded = id == '' and #KEYS >= 7
if guarded and #KEYS >= 8 then
  local v = redis.call('GET', KEYS[8]) or '0'
  if v ~= ARGV[13] then
    return {'', '', '0', 'taxonomy', v}
  end
end
if guarded then
  local no = check_guards(KEYS[6], KEYS[7], tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), ARGV[12])
  if no then
    return {'', '', '0', no[1], no[2]}
  end
end
if id == '' then
  eid = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'alert', body)
  id = eid
  local ms = tonumber(string.match(eid, '^(%d+)'))
  body = string.gsub(body, '"id":""', '"id":"' .. eid .. '"', 1)
  redis.call('ZADD', KEYS[3], ms, id)
  if ARGV[7] == '1' then
    redis.call('SET', KEYS[5], id, 'EX', tonumber(ARGV[8]))
  end
  if guarded then
    take_guards(KEYS[6], KEYS[7], ARGV[9], id, tonumber(ARGV[10]), tonumber(ARGV[11]))
  end
else
  local prev = redis.call('GET', KEYS[4] .. id)
  if not prev then
    return redis.error_reply('NOTFOUND')
  end
  if ARGV[1] == 'alert.updated' then
    eid = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'alert', body, 'before', prev)
  else
    eid = redis.call('XADD', KEYS[1], '*', 'type', ARGV[1], 'alert', body)
  end
end
redis.call('SET', KEYS[4] .. id, body, 'EX', tonumber(ARGV[5]))
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[4])
if excess > 0 then
  local cutoff = tostring(nowms - tonumber(ARGV[3]))
  local old = redis.call('XRANGE', KEYS[1], '-', '(' .. cutoff .. '-0', 'COUNT', excess)
  if #old > 0 then
    local last = old[#old][1]
    for _, e in ipairs(old) do redis.call('XDEL', KEYS[1], e[1]) end
    redis.call('SET', KEYS[2], last)
  end
end
return {eid, body, '0'}
`)

// Log is the alert log: a capped Redis Stream that is the one source for
// live fan-out, replay and webhook delivery.
type Log struct {
	rdb redis.UniversalClient
	// KeepFor and KeepCount are the retention; NewLog sets the defaults.
	KeepFor   time.Duration
	KeepCount int64
}

// NewLog returns the log kept in rdb.
func NewLog(rdb redis.UniversalClient) *Log {
	return &Log{rdb: rdb, KeepFor: KeepFor, KeepCount: KeepCount}
}

// Append writes ev to the log and returns it with its ID set. For a
// Published event the alert's ID becomes the event's ID; for the others the
// alert must exist (ErrNotFound otherwise).
func (l *Log) Append(ctx context.Context, ev flashwire.Event) (flashwire.Event, error) {
	ev, _, err := l.AppendOnce(ctx, ev, "")
	return ev, err
}

// AppendOnce is Append with a once key for a Published event: the first
// append under a key writes the event; any later one writes nothing and
// returns the alert published the first time, with repeat true (the
// returned Event's ID is then that alert's id). An empty key is Append.
// The key is kept for alertTTL, longer than the log keeps events, and is
// ignored for Updated and Retracted events.
func (l *Log) AppendOnce(ctx context.Context, ev flashwire.Event, once string) (_ flashwire.Event, repeat bool, _ error) {
	ev, repeat, _, err := l.appendGuarded(ctx, ev, once, nil)
	return ev, repeat, err
}

// refusal is a guard's answer to a publish: "dup" with the owner of the
// story's guard, or "gap" with the milliseconds left; empty when none
// refused.
type refusal struct{ kind, detail string }

// appendGuarded is AppendOnce that, for a new alert and g not nil, first
// checks the publish guards and takes them in the same step; a guard that
// refuses appends nothing and is returned.
func (l *Log) appendGuarded(ctx context.Context, ev flashwire.Event, once string, g *guards) (_ flashwire.Event, repeat bool, no refusal, _ error) {
	isNew := ev.Type == flashwire.Published
	if isNew {
		ev.Alert.ID = ""
	}
	body, err := json.Marshal(ev.Alert)
	if err != nil {
		return flashwire.Event{}, false, refusal{}, fmt.Errorf("encode alert: %w", err)
	}
	existing := ""
	if !isNew {
		existing = ev.Alert.ID
	}
	onceKey, hasOnce := onceKeyFor(once), "0"
	if isNew && once != "" {
		hasOnce = "1"
	}
	keys := []string{keyLog, keyTrimmed, keyIndex, keyAlert, onceKey}
	args := []any{string(ev.Type), string(body), l.KeepFor.Milliseconds(), l.KeepCount,
		int64(alertTTL / time.Second), existing, hasOnce, int64(alertTTL / time.Second)}
	if g != nil && isNew {
		force := "0"
		if g.force {
			force = "1"
		}
		keys = append(keys, g.keys...)
		args = append(args, g.nowMS, DuplicateWindow.Milliseconds(), g.gap, force)
		if g.taxonomyKey != "" {
			keys = append(keys, g.taxonomyKey)
			args = append(args, strconv.FormatInt(g.taxonomyVersion, 10))
		}
	}
	res, err := appendScript.Run(ctx, l.rdb, keys, args...).StringSlice()
	if err != nil {
		if strings.Contains(err.Error(), "NOTFOUND") {
			return flashwire.Event{}, false, refusal{}, fmt.Errorf("append %s for %s: %w", ev.Type, existing, flashwire.ErrNotFound)
		}
		return flashwire.Event{}, false, refusal{}, fmt.Errorf("append %s to alert log: %w", ev.Type, err)
	}
	if len(res) == 5 {
		return flashwire.Event{}, false, refusal{kind: res[3], detail: res[4]}, nil
	}
	ev.ID = res[0]
	repeat = len(res) > 2 && res[2] == "1"
	if repeat && res[1] == "" {
		// The alert's state expired before its once key: only the id is known.
		ev.Alert.ID = ev.ID
		return ev, true, refusal{}, nil
	}
	if err := json.Unmarshal([]byte(res[1]), &ev.Alert); err != nil {
		return flashwire.Event{}, false, refusal{}, fmt.Errorf("decode stored alert %s: %w", ev.ID, err)
	}
	return ev, repeat, refusal{}, nil
}

// OnceID returns the id of the alert published under the once key, or ""
// when none was.
func (l *Log) OnceID(ctx context.Context, once string) (string, error) {
	id, err := l.rdb.Get(ctx, onceKeyFor(once)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read once key: %w", err)
	}
	return id, nil
}

// onceKeyFor names the record of a once key; hashing keeps keys short
// whatever identity the caller uses.
func onceKeyFor(once string) string {
	sum := sha256.Sum256([]byte(once))
	return keyOnce + hex.EncodeToString(sum[:16])
}

// Since returns up to limit events after afterID, oldest first. recovered is
// false when events after afterID have already been trimmed from the log, so
// the caller missed some for good.
func (l *Log) Since(ctx context.Context, afterID string, limit int64) (events []flashwire.Event, recovered bool, err error) {
	if !flashwire.ValidEventID(afterID) {
		return nil, false, fmt.Errorf("read alert log after %q: not a log id", afterID)
	}
	trimmed, err := l.rdb.Get(ctx, keyTrimmed).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("read trim mark: %w", err)
	}
	recovered = trimmed == "" || flashwire.CompareEventIDs(afterID, trimmed) >= 0
	msgs, err := l.rdb.XRangeN(ctx, keyLog, "("+afterID, "+", limit).Result()
	if err != nil {
		return nil, false, fmt.Errorf("read alert log after %s: %w", afterID, err)
	}
	events, err = decodeEvents(msgs)
	return events, recovered, err
}

// LastID returns the id of the newest event, or "0-0" for an empty log.
func (l *Log) LastID(ctx context.Context) (string, error) {
	msgs, err := l.rdb.XRevRangeN(ctx, keyLog, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read newest alert log id: %w", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Tail calls fn with each batch of events appended after afterID, in order,
// until ctx ends. It blocks in Redis between batches, so an event reaches fn
// a network round trip after it was appended. Errors from Redis are retried
// after a pause; only ctx ends it.
func (l *Log) Tail(ctx context.Context, afterID string, fn func([]flashwire.Event)) error {
	if !flashwire.ValidEventID(afterID) {
		return fmt.Errorf("tail alert log after %q: not a log id", afterID)
	}
	pause := 100 * time.Millisecond
	for {
		streams, err := l.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{keyLog, afterID},
			Count:   512,
			Block:   5 * time.Second,
		}).Result()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
			continue
		}
		pause = 100 * time.Millisecond
		for _, s := range streams {
			events, err := decodeEvents(s.Messages)
			if len(s.Messages) > 0 {
				afterID = s.Messages[len(s.Messages)-1].ID
			}
			if err == nil && len(events) > 0 {
				fn(events)
			}
		}
	}
}

// Alert returns the current state of the alert with the given id.
func (l *Log) Alert(ctx context.Context, id string) (flashwire.Alert, error) {
	if !flashwire.ValidEventID(id) {
		return flashwire.Alert{}, fmt.Errorf("load alert %q: %w", id, flashwire.ErrNotFound)
	}
	body, err := l.rdb.Get(ctx, keyAlert+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return flashwire.Alert{}, fmt.Errorf("load alert %s: %w", id, flashwire.ErrNotFound)
	}
	if err != nil {
		return flashwire.Alert{}, fmt.Errorf("load alert %s: %w", id, err)
	}
	var a flashwire.Alert
	if err := json.Unmarshal(body, &a); err != nil {
		return flashwire.Alert{}, fmt.Errorf("decode alert %s: %w", id, err)
	}
	return a, nil
}

func decodeEvents(msgs []redis.XMessage) ([]flashwire.Event, error) {
	events := make([]flashwire.Event, 0, len(msgs))
	for _, m := range msgs {
		typ, _ := m.Values["type"].(string)
		body, _ := m.Values["alert"].(string)
		ev := flashwire.Event{ID: m.ID, Type: flashwire.EventType(typ)}
		if err := json.Unmarshal([]byte(body), &ev.Alert); err != nil {
			return events, fmt.Errorf("decode alert log entry %s: %w", m.ID, err)
		}
		if ev.Type == flashwire.Published {
			ev.Alert.ID = m.ID
		}
		if before, ok := m.Values["before"].(string); ok && ev.Type == flashwire.Updated {
			var prev flashwire.Alert
			if err := json.Unmarshal([]byte(before), &prev); err != nil {
				return events, fmt.Errorf("decode previous version in alert log entry %s: %w", m.ID, err)
			}
			attrs := prev.Attrs()
			ev.Previous = &attrs
		}
		events = append(events, ev)
	}
	return events, nil
}
