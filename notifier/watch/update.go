package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"flashwire"
	"flashwire/notifier"
)

// updateStory sends a changed headline of a pushed story as an update.
// Only the instance that moves the record from "pushed" (with the headline
// it read) to "updating" sends it; the record keeps the last headline sent
// until the update went through, so an instance dying in between leaves a
// stale "updating" record that a later poll takes over.
func (w *Watcher) updateStory(ctx context.Context, src Source, s Story, hash, alertID, oldHeadline string, a flashwire.Alert) error {
	_, moved, err := w.move(ctx, hash, statePushed, stateUpdating, oldHeadline, "", draftJSON(a))
	if err != nil || !moved {
		return err
	}
	return w.sendUpdate(ctx, src, s, hash, alertID, a)
}

// resumeUpdate finishes an update whose instance died, once this instance
// has taken the stale "updating" record over. A canceled story is
// retracted instead; otherwise the feed's current version is sent, or the
// recorded one when the feed's cannot be (withheld now, or no headline): an
// update begun is finished.
func (w *Watcher) resumeUpdate(ctx context.Context, src Source, s Story, hash, alertID string, a flashwire.Alert) error {
	if s.Status == StatusCanceled {
		_, moved, err := w.move(ctx, hash, stateUpdating, stateRetracting, "", "", "")
		if err != nil || !moved {
			return err
		}
		return w.retract(ctx, src, s, hash)
	}
	if s.Status == StatusWithheld || a.Headline == "" {
		draft, err := w.cfg.Redis.HGet(ctx, keyStory+hash, "draft").Result()
		if err == nil {
			err = json.Unmarshal([]byte(draft), &a)
		}
		if err != nil {
			w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "changed", "0")
			return fmt.Errorf("story %s: %w", s.ID, err)
		}
	}
	return w.sendUpdate(ctx, src, s, hash, alertID, a)
}

// sendUpdate sends a as the update of the story's alert, the record being
// "updating" and this instance's. It first reads the alert's current
// headline: one that is already a's means the instance before got that far
// and died before recording it, so an update goes out once. Once it went
// through the record is "pushed" with a's headline. A failure leaves the
// record "updating" and stale at once, so the next poll retries; after
// maxUpdateAttempts (a crash counts as one) the record goes back to
// "pushed" with the last headline sent, "unsent" and "error" say which
// headline did not go out and why, and every poll that lists the story with
// that headline reports it on the source, until the feed's headline changes
// or the alert carries it.
func (w *Watcher) sendUpdate(ctx context.Context, src Source, s Story, hash, alertID string, a flashwire.Alert) error {
	key := keyStory + hash
	bg := context.WithoutCancel(ctx)
	// Counted before the call, so that an instance dying in it spends an
	// attempt too.
	n, err := w.cfg.Redis.HIncrBy(ctx, key, "update_attempts", 1).Result()
	if err != nil {
		w.cfg.Redis.HSet(bg, key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	switch {
	case errors.Is(err, flashwire.ErrNotFound):
		// Its state expired: nothing can reach it any more.
		return w.updated(bg, hash, a.Headline)
	case err == nil && cur.Retracted:
		_, _, err = w.move(bg, hash, stateUpdating, stateRetracted, "", "", "")
		return err
	case err == nil && cur.Headline == a.Headline:
		w.cfg.Logger.Info("watch: alert found already updated", "story", s.ID, "alert_id", alertID, "headline", a.Headline)
		return w.updated(bg, hash, a.Headline)
	case err == nil:
		_, err = w.cfg.Alerts.Update(ctx, alertID, a)
		if errors.Is(err, notifier.ErrRetracted) {
			_, _, err = w.move(bg, hash, stateUpdating, stateRetracted, "", "", "")
			return err
		}
		if err == nil {
			w.cfg.Logger.Info("watch: alert updated", "story", s.ID, "alert_id", alertID, "headline", a.Headline)
			w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeUpdated, Headline: a.Headline, AlertID: alertID})
			return w.updated(bg, hash, a.Headline)
		}
	}
	if n >= maxUpdateAttempts {
		problem := clip(fmt.Sprintf("alert %s of story %s not updated to %q, gave up after %d attempts: %v", alertID, s.ID, a.Headline, n, err), 500)
		w.cfg.Redis.HSet(bg, key, "error", problem, "unsent", a.Headline)
		w.cfg.Redis.HDel(bg, key, "update_attempts")
		_, _, _ = w.move(bg, hash, stateUpdating, statePushed, "", "", "")
		w.cfg.Logger.Error("watch: update given up", "story", s.ID, "alert_id", alertID, "attempts", n, "error", err.Error())
		return errors.New(problem)
	}
	w.cfg.Redis.HSet(bg, key, "changed", "0", "error", clip(err.Error(), 500))
	return fmt.Errorf("update alert %s (attempt %d of %d): %w", alertID, n, maxUpdateAttempts, err)
}

// updated records headline as sent to the story's alert.
func (w *Watcher) updated(ctx context.Context, hash, headline string) error {
	_, moved, err := w.move(ctx, hash, stateUpdating, statePushed, "", headline, "")
	if err != nil || !moved {
		// Still "updating" after an error: the poll after the lease finds
		// the alert carrying the headline and records it.
		return err
	}
	return w.cfg.Redis.HDel(ctx, keyStory+hash, "update_attempts", "error", "unsent").Err()
}

// unupdated reports a story whose update to headline was given up, unless
// its alert carries that headline since (an editor's correction): then the
// record catches up and the source's error clears.
func (w *Watcher) unupdated(ctx context.Context, hash, alertID, headline, problem string) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	if err == nil && cur.Headline == headline {
		if err := w.cfg.Redis.HSet(ctx, keyStory+hash, "headline", headline).Err(); err != nil {
			return fmt.Errorf("story %s: %w", hash, err)
		}
		return w.cfg.Redis.HDel(ctx, keyStory+hash, "error", "unsent").Err()
	}
	return errors.New(problem)
}
