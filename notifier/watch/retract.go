package watch

import (
	"context"
	"errors"
	"fmt"

	"flashwire"
	"flashwire/notifier"
)

// cancelStory retracts a pushed story, takes a held one off the queue, and
// marks an unseen one so it is never pushed.
func (w *Watcher) cancelStory(ctx context.Context, src Source, s Story, hash string) error {
	found, moved, err := w.move(ctx, hash, statePushed, stateRetracting, "", "", "")
	if err != nil {
		return err
	}
	switch {
	case moved:
		return w.retract(ctx, src, s, hash)
	case found == stateHeld:
		_, moved, err = w.move(ctx, hash, stateHeld, stateCanceled, "", "", "")
	case found == "" || found == stateOld:
		moved, err = w.claim(ctx, src, s, hash, stateCanceled, "", flashwire.Alert{Headline: s.Headline})
	}
	if moved {
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: "canceled by the agency before it was pushed"})
	}
	return err
}

// retract retracts the alert of a story that this instance moved to
// "retracting" or took over there. An alert already retracted counts as
// done: the instance before got that far and died before recording it. A
// failure leaves the story "retracting" and stale at once, so the next poll
// retries it; after maxRetractAttempts (a crash counts as one) the story
// becomes "unretracted" and its error is reported on every poll.
func (w *Watcher) retract(ctx context.Context, src Source, s Story, hash string) error {
	key := keyStory + hash
	bg := context.WithoutCancel(ctx)
	alertID, err := w.cfg.Redis.HGet(ctx, key, "alert").Result()
	var n int64
	if err == nil {
		// Counted before the call, so that an instance dying in it
		// spends an attempt too.
		n, err = w.cfg.Redis.HIncrBy(ctx, key, "attempts", 1).Result()
	}
	if err != nil {
		w.cfg.Redis.HSet(bg, key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	_, err = w.cfg.Alerts.Retract(ctx, alertID)
	switch {
	case err == nil || errors.Is(err, notifier.ErrRetracted):
		if _, _, merr := w.move(bg, hash, stateRetracting, stateRetracted, "", "", ""); merr != nil {
			// Still "retracting": the poll after the lease finds the
			// alert retracted and records it.
			return merr
		}
		w.cfg.Redis.HDel(bg, key, "error")
		if err != nil {
			w.cfg.Logger.Info("watch: alert found already retracted", "source", src.ID, "story", s.ID, "alert_id", alertID)
			return nil
		}
		w.cfg.Logger.Info("watch: alert retracted", "source", src.ID, "story", s.ID, "alert_id", alertID)
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeRetracted, Reason: "canceled by the agency", AlertID: alertID})
		return nil
	case n >= maxRetractAttempts:
		problem := clip(fmt.Sprintf("alert %s of story %s not retracted, gave up after %d attempts: %v", alertID, s.ID, n, err), 500)
		w.cfg.Redis.HSet(bg, key, "error", problem)
		_, _, _ = w.move(bg, hash, stateRetracting, stateUnretracted, "", "", "")
		w.cfg.Logger.Error("watch: retraction given up", "source", src.ID, "story", s.ID, "alert_id", alertID, "attempts", n, "error", err.Error())
		return errors.New(problem)
	}
	w.cfg.Redis.HSet(bg, key, "changed", "0", "error", clip(err.Error(), 500))
	return fmt.Errorf("retract alert %s (attempt %d of %d): %w", alertID, n, maxRetractAttempts, err)
}

// unretracted reports a story whose retraction was given up, unless its
// alert has been retracted since (by an editor): then the story is
// recorded retracted and the source's error clears.
func (w *Watcher) unretracted(ctx context.Context, s Story, hash, alertID, problem string) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	if err == nil && cur.Retracted {
		_, _, err = w.move(ctx, hash, stateUnretracted, stateRetracted, "", "", "")
		return err
	}
	if problem == "" {
		problem = fmt.Sprintf("alert %s of story %s not retracted", alertID, s.ID)
	}
	return errors.New(problem)
}
