package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// The states of a story record.
const (
	statePending    = "pending"    // claimed; being published (taken over once stale)
	statePushed     = "pushed"     // published; "alert" holds its id
	stateHeld       = "held"       // waiting for an editor
	stateSending    = "sending"    // an editor's send is being published (taken over once stale)
	stateDismissed  = "dismissed"  // an editor dismissed it
	stateOld        = "old"        // a version too old when seen; a newer fresh one replaces it
	stateCanceled   = "canceled"   // canceled before it was pushed
	stateRetracting = "retracting" // being retracted (taken over once stale)
	stateRetracted  = "retracted"  // pushed, then retracted
	// stateUpdating: a new version ("draft") is being sent as an update;
	// "headline" is still the last one sent (taken over once stale).
	stateUpdating = "updating"
	// stateUnretracted: its retraction failed maxRetractAttempts times and
	// is no longer tried; "error" says why, and every poll that lists the
	// story reports it on the source until the alert is retracted.
	stateUnretracted = "unretracted"
)

// maxRetractAttempts bounds the retries of a retraction that keeps failing,
// so a broken one ends in a reported error rather than a silent loop.
const maxRetractAttempts = 5

// maxUpdateAttempts bounds the retries of an update that keeps failing, for
// the same reason.
const maxUpdateAttempts = 5

// storyHash names a story's record. An identity that is not a URI is
// scoped to its source.
func storyHash(sourceID, identity string) string {
	if !strings.Contains(identity, ":") {
		identity = sourceID + "|" + identity
	}
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:16])
}

// onceKey is the once key a story is published under (notifier.
// PublishOptions.Once): whichever instance, poll or editor publishes it,
// and however often after a crash, it goes out once.
func onceKey(hash string) string { return "watch:story:" + hash }

// claimScript creates a story's record unless it exists: the one atomic
// decision that gives a story to one instance at a time. A record that only
// says a version was too old ("old") does not block a fresh claim of that
// version or a later one (another source may allow older stories, or the
// source's max_age have grown): it is replaced, so freshness is decided per
// version. An undated version never replaces it: undated items seen on a
// source's first poll stay back catalogue. "changed" is when
// the state last changed: a "pending", "sending", "retracting" or
// "updating" state older than the claim's lease belongs to an instance that
// died.
// KEYS: story record, held set. ARGV: state, source id, identity, headline,
// draft alert JSON, now ms, TTL s, story hash, held reason or "", version
// ms (0 when undated).
var claimScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st then
  if st ~= 'old' or ARGV[1] == 'old' then return 0 end
  local v = tonumber(ARGV[10])
  if v == 0 or tonumber(redis.call('HGET', KEYS[1], 'version') or '0') > v then return 0 end
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'source', ARGV[2], 'story', ARGV[3], 'headline', ARGV[4], 'draft', ARGV[5], 'first_seen', ARGV[6], 'changed', ARGV[6], 'version', ARGV[10])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[9]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
if ARGV[1] == 'held' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[8]) end
return 1`)

// claim runs claimScript for story s of src in state, with its alert a
// and, when held, the reason.
func (w *Watcher) claim(ctx context.Context, src Source, s Story, hash, state, reason string, a flashwire.Alert) (bool, error) {
	draft := ""
	if state != stateCanceled {
		draft = draftJSON(a)
	}
	version := int64(0)
	if t := s.versionTime(); !t.IsZero() {
		version = t.UnixMilli()
	}
	ok, err := claimScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash, keyHeld},
		state, src.ID, s.ID, a.Headline, draft, millis(w.cfg.Now()), int64(storyTTL/time.Second), hash, reason, version).Bool()
	if err != nil {
		return false, fmt.Errorf("story %s: %w", s.ID, err)
	}
	return ok, nil
}

// moveScript changes a story's state from one to another, only if it is
// in the first (and, when given, still has the expected headline), and
// keeps the held set in step. It returns the state found and whether it
// moved.
// KEYS: story record, held set. ARGV: from, to, story hash, expected
// headline or "", new headline or "", now ms, draft JSON or "".
var moveScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'', 0} end
if st ~= ARGV[1] then return {st, 0} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'headline') ~= ARGV[4] then return {st, 0} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'changed', ARGV[6])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'headline', ARGV[5]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'draft', ARGV[7]) end
if ARGV[1] == 'held' and ARGV[2] ~= 'held' then redis.call('ZREM', KEYS[2], ARGV[3]) end
if ARGV[2] == 'held' and ARGV[1] ~= 'held' then redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3]) end
return {st, 1}`)

// reclaimScript takes over a story stuck in a claimed state (ARGV[1]) since
// before ARGV[2] ms: the claim becomes the caller's, from ARGV[3] ms on. It
// returns 1 when this caller took it over.
// KEYS: story record. ARGV: state, stale before ms, now ms.
var reclaimScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
local changed = tonumber(redis.call('HGET', KEYS[1], 'changed') or '0') or 0
if changed > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'changed', ARGV[3])
return 1`)

// reclaim runs reclaimScript.
func (w *Watcher) reclaim(ctx context.Context, hash, state string) (bool, error) {
	now := w.cfg.Now()
	ok, err := reclaimScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash},
		state, millis(now.Add(-w.cfg.LeaseTTL)), millis(now)).Bool()
	if err != nil {
		return false, fmt.Errorf("story %s: %w", hash, err)
	}
	return ok, nil
}

// move runs moveScript; found is the state before ("" when no record).
func (w *Watcher) move(ctx context.Context, hash, from, to, wantHeadline, newHeadline, draft string) (found string, moved bool, err error) {
	res, err := moveScript.Run(ctx, w.cfg.Redis, []string{keyStory + hash, keyHeld},
		from, to, hash, wantHeadline, newHeadline, millis(w.cfg.Now()), draft).Slice()
	if err != nil {
		return "", false, fmt.Errorf("story %s: %w", hash, err)
	}
	found, _ = res[0].(string)
	n, _ := res[1].(int64)
	return found, n == 1, nil
}
