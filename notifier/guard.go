package notifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

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
// Existing.ID is empty when an earlier version's instance was still
// publishing that alert (it held the guard before appending).
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

// luaGuards holds the guards as Lua functions that the append script (see
// log.go) runs before it appends a new alert, so that checking the guards,
// appending and taking the guards are one atomic step: two instances
// publishing the same story, or two non-flash alerts, at the same moment
// cannot both pass. Values are "MS|OWNER": the time the guard was taken on
// the service's clock and the alert id that holds it ("pending:NONCE" from
// an earlier version, while it published). Key expiry only cleans up; the
// windows are measured against the given now, so an injected clock drives
// them.
//
// check(dedupe key, gap key, now ms, dedupe window ms, gap ms (0: no gap
// check), force ("1" or "0")) returns nil when the alert may go, or
// {"dup", OWNER} | {"gap", MS LEFT}. take(the same keys, now ms, alert id,
// window ms, gap ms) takes the guards for the alert.
const luaGuards = `
local function check_guards(kd, kg, now, window, gap, force)
  if force ~= '1' then
    local cur = redis.call('GET', kd)
    if cur then
      local ms, owner = string.match(cur, '^(%d+)|(.*)$')
      if ms and now - tonumber(ms) < window then
        return {'dup', owner}
      end
    end
  end
  if gap > 0 then
    local last = redis.call('GET', kg)
    if last then
      local ms = tonumber(string.match(last, '^(%d+)|'))
      if ms and now - ms < gap then
        return {'gap', tostring(gap - (now - ms))}
      end
    end
  end
  return nil
end
local function take_guards(kd, kg, now, id, window, gap)
  if gap > 0 then
    redis.call('SET', kg, now .. '|' .. id, 'PX', gap * 2)
  end
  redis.call('SET', kd, now .. '|' .. id, 'PX', window * 2)
end
`

// guards is what a publish asks of the guards (see luaGuards).
type guards struct {
	keys  []string // dedupe key, gap key
	nowMS string
	gap   int64 // ms, 0 for no gap check
	force bool
	// taxonomyKey, when set, is the taxonomy's version key, and
	// taxonomyVersion the version the alert was checked at: the append
	// refuses with "taxonomy" when the key holds another.
	taxonomyKey     string
	taxonomyVersion int64
}

// dedupeKey names the guard of one story: the same link and headline, the
// link compared in its normal form (flashwire.NormalizeLink: no tracking
// parameters, fragment or trailing slash, host without case) and the
// headline without case or repeated spaces.
func dedupeKey(a flashwire.Alert) string {
	headline := strings.Join(strings.Fields(strings.ToLower(a.Headline)), " ")
	sum := sha256.Sum256([]byte(flashwire.NormalizeLink(a.URL) + "\n" + headline))
	return keyDedupe + hex.EncodeToString(sum[:16])
}
