package notifier

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DuplicateWindow is how long the same url and headline count as a
// duplicate of an alert already sent.
const DuplicateWindow = 10 * time.Minute

// Errors of the publish guards.
var (
	// ErrDuplicate means the same url and headline went out within
	// DuplicateWindow; a *DuplicateError carries the alert.
	ErrDuplicate = errors.New("the same url and headline were sent within the last 10 minutes; set force to send again")
	// ErrTooSoon means the newsroom-wide minimum gap between non-flash
	// alerts has not passed; a *TooSoonError says how long to wait.
	ErrTooSoon = errors.New("the minimum gap between non-flash alerts has not passed")
)

// DuplicateError is ErrDuplicate with the alert that was already sent. Its
// Existing.ID is empty while that alert is still being published.
type DuplicateError struct {
	Existing Alert
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

// PublishOptions relax the guards of PublishWith.
type PublishOptions struct {
	// Force sends even when the same url and headline went out within
	// DuplicateWindow.
	Force bool
	// SkipGap ignores the minimum gap: scheduled alerts had their time
	// chosen in advance, and the gap only guards against impulsive pushes.
	SkipGap bool
	// Once, when set, names what is being published (a schedule id, a feed
	// story) so that it goes out exactly once: a publish under a Once that
	// already published an alert sends nothing and returns that alert, even
	// when the first publish's caller died before learning its result.
	Once string
}

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

// dedupeKey names the guard of one story: the same url and headline, the
// headline compared without case or repeated spaces.
func dedupeKey(a Alert) string {
	headline := strings.Join(strings.Fields(strings.ToLower(a.Headline)), " ")
	sum := sha256.Sum256([]byte(a.URL + "\n" + headline))
	return keyDedupe + hex.EncodeToString(sum[:16])
}

// PublishWith is Publish behind the newsroom's guards: the same url and
// headline within DuplicateWindow is refused with a *DuplicateError unless
// opts.Force, and with MinGap set a non-flash alert sent less than MinGap
// after the previous non-flash one is refused with a *TooSoonError. Both
// checks are atomic across instances. A duplicate of an alert since
// retracted is not refused: sending it again is the correction.
func (s *Service) PublishWith(ctx context.Context, a Alert, opts PublishOptions) (Alert, error) {
	a, _, err := s.PublishOnce(ctx, a, opts)
	return a, err
}

// PublishOnce is PublishWith that also reports a repeat: with opts.Once
// set and an alert already published under it, nothing is sent, no guard
// is consulted, and that alert is returned with repeat true. Otherwise the
// guards apply as for PublishWith, and the once key is taken in the same
// atomic step that appends the alert, so of two instances publishing under
// one key at once, one sends and the other gets its alert.
func (s *Service) PublishOnce(ctx context.Context, a Alert, opts PublishOptions) (_ Alert, repeat bool, _ error) {
	if opts.Once != "" {
		// Before the guards: a retried publish would otherwise be refused
		// as a duplicate of itself.
		prev, ok, err := s.published(ctx, opts.Once)
		if err != nil {
			return Alert{}, false, err
		}
		if ok {
			return prev, true, nil
		}
	}
	if err := s.Check(ctx, &a); err != nil {
		return Alert{}, false, err
	}
	nonceBytes := make([]byte, 8)
	_, _ = rand.Read(nonceBytes)
	nonce := hex.EncodeToString(nonceBytes)
	now := s.Now().UTC().Truncate(time.Millisecond)
	nowMS := strconv.FormatInt(now.UnixMilli(), 10)
	var gap int64
	if s.MinGap > 0 && a.Priority != Flash && !opts.SkipGap {
		gap = max(s.MinGap.Milliseconds(), 1)
	}
	keys := []string{dedupeKey(a), keyGap}
	force := opts.Force
	for {
		flag := "0"
		if force {
			flag = "1"
		}
		res, err := claimScript.Run(ctx, s.log.rdb, keys, nowMS, nonce, DuplicateWindow.Milliseconds(), gap, flag).StringSlice()
		if err != nil {
			return Alert{}, false, fmt.Errorf("check publish guards: %w", err)
		}
		switch res[0] {
		case "dup":
			if strings.HasPrefix(res[1], "pending:") {
				return Alert{}, false, &DuplicateError{}
			}
			existing, err := s.log.Alert(ctx, res[1])
			if errors.Is(err, ErrNotFound) || (err == nil && existing.Retracted) {
				force = true
				continue
			}
			if err != nil {
				return Alert{}, false, err
			}
			return Alert{}, false, &DuplicateError{Existing: existing}
		case "gap":
			ms, _ := strconv.ParseInt(res[1], 10, 64)
			return Alert{}, false, &TooSoonError{RetryAfter: time.Duration(ms) * time.Millisecond}
		}
		break
	}
	published, repeat, err := s.publishChecked(ctx, a, opts.Once)
	settleID := published.ID
	if err != nil {
		settleID = ""
	}
	// A failed settle leaves a pending mark that expires with its window:
	// at worst the story or the gap stays blocked a little longer.
	_ = settleScript.Run(context.WithoutCancel(ctx), s.log.rdb, keys, nowMS, nonce, settleID).Err()
	return published, repeat, err
}
