package notifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// DuplicateWindow is how long the same url and headline count as a
// duplicate of an alert already sent.
const DuplicateWindow = 10 * time.Minute

// Errors of the publish guards.
var (
	// ErrDuplicate means the same url and headline went out within
	// DuplicateWindow; a *DuplicateError carries the alert.
	ErrDuplicate = flashwire.NewError(flashwire.ErrConflict, "the same url and headline were sent within the last 10 minutes")
	// ErrTooSoon means the newsroom-wide minimum gap between non-flash
	// alerts has not passed; a *TooSoonError says how long to wait.
	ErrTooSoon = flashwire.NewError(flashwire.ErrTooMany, "the minimum gap between non-flash alerts has not passed")
)

// DuplicateError is ErrDuplicate with the alert that was already sent. Its
// Existing.ID is empty while that alert is still being published.
type DuplicateError struct {
	Existing flashwire.Alert
}

func (e *DuplicateError) Error() string { return ErrDuplicate.Error() }

// Unwrap makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// TooSoonError is ErrTooSoon with the time left until a non-flash alert may
// go out.
type TooSoonError struct {
	RetryAfter time.Duration
}

func (e *TooSoonError) Error() string {
	return fmt.Sprintf("%s; retry in %s", ErrTooSoon, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrTooSoon) hold.
func (e *TooSoonError) Unwrap() error { return ErrTooSoon }

// Wait returns e.RetryAfter, for flashwire.RetryAfter.
func (e *TooSoonError) Wait() time.Duration { return e.RetryAfter }

const (
	keyDedupe = "flashwire:v1:{alerts}:dedupe:"
	keyGap    = "flashwire:v1:{alerts}:gap"
)

// claimScript checks and takes both guards at once, so that two instances
// publishing the same story, or two non-flash alerts, at the same moment
// cannot both pass. Values are "MS|OWNER": the time the guard was taken on
// the service's clock and who holds it (an alert id, or "pending:NONCE"
// while publishing). Key expiry only cleans up; the windows are measured
// against ARGV now, so an injected clock drives them.
//
// KEYS: dedupe key, gap key. ARGV: now ms, nonce, dedupe window ms, gap ms
// (0: no gap check), force ("1" or "0").
// Returns {"dup", OWNER} | {"gap", MS LEFT} | {"ok", ""}.
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if ARGV[5] ~= '1' then
  local cur = redis.call('GET', KEYS[1])
  if cur then
    local ms, owner = string.match(cur, '^(%d+)|(.*)$')
    if ms and now - tonumber(ms) < tonumber(ARGV[3]) then
      return {'dup', owner}
    end
  end
end
local gap = tonumber(ARGV[4])
if gap > 0 then
  local last = redis.call('GET', KEYS[2])
  if last then
    local ms = tonumber(string.match(last, '^(%d+)|'))
    if ms and now - ms < gap then
      return {'gap', tostring(gap - (now - ms))}
    end
  end
  redis.call('SET', KEYS[2], ARGV[1] .. '|pending:' .. ARGV[2], 'PX', gap * 2)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|pending:' .. ARGV[2], 'PX', tonumber(ARGV[3]) * 2)
return {'ok', ''}
`)

// settleScript replaces this publish's "pending" marks: with the alert id
// after a publish, or by deleting them after a failure. A mark someone else
// took since is left alone.
//
// KEYS: dedupe key, gap key. ARGV: now ms, nonce, alert id ("" deletes).
var settleScript = redis.NewScript(`
local mine = ARGV[1] .. '|pending:' .. ARGV[2]
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == mine then
    if ARGV[3] == '' then
      redis.call('DEL', k)
    else
      redis.call('SET', k, ARGV[1] .. '|' .. ARGV[3], 'KEEPTTL')
    end
  end
end
return 1
`)

// dedupeKey names the guard of one story: the same link and headline, the
// link compared in its normal form (flashwire.NormalizeLink: no tracking
// parameters, fragment or trailing slash, host without case) and the
// headline without case or repeated spaces.
func dedupeKey(a flashwire.Alert) string {
	headline := strings.Join(strings.Fields(strings.ToLower(a.Headline)), " ")
	sum := sha256.Sum256([]byte(flashwire.NormalizeLink(a.URL) + "\n" + headline))
	return keyDedupe + hex.EncodeToString(sum[:16])
}
