package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outcomes of a story version: what the watcher decided, as listed by
// Outcomes and counted by flashwire_watch_story_outcomes_total.
const (
	// OutcomePushed: published as an alert (AlertID), or found already
	// published under its once key.
	OutcomePushed = "pushed"
	// OutcomeHeld: waiting in the held queue for an editor; Reason says
	// why (hold mode, the minimum gap, no public link, an invalid field).
	OutcomeHeld = "held"
	// OutcomeSkipped: not pushed, for the Reason given (not flagged as
	// breaking, too old, embargoed, withheld, canceled, a duplicate).
	OutcomeSkipped = "skipped"
	// OutcomeUpdated: a new headline of a pushed story sent as an update.
	OutcomeUpdated = "updated"
	// OutcomeRetracted: a pushed story canceled by its agency, retracted.
	OutcomeRetracted = "retracted"
)

// maxOutcomes is how many recent outcomes are kept per source, in each of
// its two lists: decisions about breaking stories, and everyday items
// skipped as not flagged. A busy agency feed skips hundreds of everyday
// items a day; in one list they would push out, within hours, the pushed
// and held stories an editor comes looking for.
const maxOutcomes = 200

// reasonNotFlagged is the reason of an everyday item's skip.
const reasonNotFlagged = "not flagged as breaking by the source's rule"

// StoryOutcome is one decision of the watcher about one version of a story.
type StoryOutcome struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// StoryID is the item's identity in its feed (guid, ninjs uri or link).
	StoryID string `json:"story_id"`
	// HeldID names the story in the held routes while it is held.
	HeldID   string `json:"held_id,omitempty"`
	Headline string `json:"headline"`
	// VersionAt is the version's time (ninjs versioncreated, Atom updated,
	// else the publication time); absent when the item is undated.
	VersionAt time.Time `json:"version_at,omitzero"`
	AlertID   string    `json:"alert_id,omitempty"`
	// At is when the watcher decided.
	At time.Time `json:"at"`
}

// recordScript appends an outcome to a source's list unless the story's
// last recorded outcome had the same signature, so a feed polled again and
// again does not repeat what is already said; it returns 1 when appended.
// KEYS: decided hash, outcomes list. ARGV: story hash, signature, outcome
// JSON, list length, TTL s.
var recordScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return 1`)

// record notes the outcome of story s of src (story record hash) for the
// stories API, once per distinct outcome, and logs it.
func (w *Watcher) record(ctx context.Context, src Source, s Story, hash string, o StoryOutcome) {
	o.StoryID = s.ID
	if o.Headline == "" {
		o.Headline = s.Headline
	}
	o.VersionAt = s.versionTime()
	o.At = w.cfg.Now().UTC()
	if o.Outcome == OutcomeHeld {
		o.HeldID = hash
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return
	}
	sig := fmt.Sprintf("%s|%s|%d|%s|%s", o.Outcome, o.Reason, o.VersionAt.UnixMilli(), o.Headline, o.AlertID)
	list := keyOutcomes + src.ID
	if o.Outcome == OutcomeSkipped && o.Reason == reasonNotFlagged {
		list = keyEveryday + src.ID
	}
	added, err := recordScript.Run(context.WithoutCancel(ctx), w.cfg.Redis, []string{keyDecided + src.ID, list},
		hash, sig, raw, maxOutcomes, int64(storyTTL/time.Second)).Int()
	if err != nil {
		w.cfg.Logger.Warn("watch: outcome not recorded", "source", src.ID, "story", s.ID, "outcome", o.Outcome, "error", err.Error())
		return
	}
	if added == 1 {
		w.metrics.outcomes.WithLabelValues(src.ID, o.Outcome).Inc()
		// A feed's back catalogue and everyday items are skipped by the
		// dozen: those lines are for debugging only.
		level := slog.LevelInfo
		if o.Outcome == OutcomeSkipped {
			level = slog.LevelDebug
		}
		w.cfg.Logger.Log(ctx, level, "watch: story "+o.Outcome, "source", src.ID, "story", s.ID, "reason", o.Reason, "alert_id", o.AlertID)
	}
}

// recordEditor records an editor's decision o on the held story hash, for
// the source the story came from.
func (w *Watcher) recordEditor(ctx context.Context, hash string, o StoryOutcome) {
	vals, err := w.cfg.Redis.HMGet(ctx, keyStory+hash, "source", "story", "headline", "version").Result()
	if err != nil {
		return
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	if str(0) == "" {
		return
	}
	w.record(ctx, Source{ID: str(0)}, Story{ID: str(1), Headline: str(2), Version: parseMillis(str(3))}, hash, o)
}

// forgetGone drops the remembered outcomes of stories no longer in the
// source's feed, so the memory stays as large as the feed; the list of
// recent outcomes keeps them.
func (w *Watcher) forgetGone(ctx context.Context, srcID string, seen map[string]bool) {
	fields, err := w.cfg.Redis.HKeys(ctx, keyDecided+srcID).Result()
	if err != nil {
		return
	}
	var gone []string
	for _, f := range fields {
		if !seen[f] {
			gone = append(gone, f)
		}
	}
	if len(gone) > 0 {
		w.cfg.Redis.HDel(ctx, keyDecided+srcID, gone...)
	}
}

// Outcomes returns the recent outcomes of a source's stories, newest first:
// the last maxOutcomes decisions about breaking stories and the last
// maxOutcomes everyday items skipped, kept as long as story records.
func (w *Watcher) Outcomes(ctx context.Context, sourceID string) ([]StoryOutcome, error) {
	if _, err := w.store.get(ctx, sourceID); err != nil {
		return nil, err
	}
	pipe := w.cfg.Redis.Pipeline()
	lists := []*redis.StringSliceCmd{
		pipe.LRange(ctx, keyOutcomes+sourceID, 0, maxOutcomes-1),
		pipe.LRange(ctx, keyEveryday+sourceID, 0, maxOutcomes-1),
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("load outcomes of source %s: %w", sourceID, err)
	}
	var out []StoryOutcome
	for _, l := range lists {
		for _, raw := range l.Val() {
			var o StoryOutcome
			if json.Unmarshal([]byte(raw), &o) == nil {
				out = append(out, o)
			}
		}
	}
	// Each list is newest first; together, by when the watcher decided.
	slices.SortStableFunc(out, func(a, b StoryOutcome) int { return b.At.Compare(a.At) })
	return out, nil
}
