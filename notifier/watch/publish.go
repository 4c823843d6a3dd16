package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// takeOver settles a story still claimed ("pending", or "sending" for an
// editor's send) once the claim's lease has passed: the instance that
// claimed it died, before or after publishing. Only the instance that takes
// the claim over goes on. It then asks the alert log what the story's once
// key published: an alert found becomes the story's (adopt), and the feed's
// current version applies to it. With none found, a canceled story is
// marked so it is never pushed, an editor's send goes back to the held
// queue, a withheld story keeps its claim for a later usable version, and
// a usable one is published again under the same once key.
func (w *Watcher) takeOver(ctx context.Context, src Source, s Story, hash, state string, a flashwire.Alert) error {
	took, err := w.reclaim(ctx, hash, state)
	if err != nil || !took {
		return err
	}
	key := keyStory + hash
	prev, found, err := w.cfg.Alerts.PublishedOnce(ctx, onceKey(hash))
	if err != nil {
		// Stale again at once, so the next poll retries.
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	if found {
		return w.adopt(ctx, src, s, hash, prev.ID, a)
	}
	switch {
	case s.Status == StatusCanceled:
		_, _, err := w.move(ctx, hash, state, stateCanceled, "", "", "")
		return err
	case state == stateSending:
		_, moved, err := w.move(ctx, hash, stateSending, stateHeld, "", "", "")
		if moved {
			w.metrics.held.WithLabelValues(heldStale).Inc()
		}
		return err
	case s.Status == StatusWithheld:
		w.cfg.Redis.HSet(ctx, key, "changed", "0")
		return nil
	}
	return w.publish(ctx, src, s, hash, a)
}

// adopt records the alert a dead instance published under the story's once
// key as the story's, with the headline it carries now, then brings it in
// line with the feed: a canceled story is retracted, a new headline sent as
// an update. The alert counts as the dead instance's, not this one's.
func (w *Watcher) adopt(ctx context.Context, src Source, s Story, hash, alertID string, a flashwire.Alert) error {
	cur, err := w.cfg.Alerts.Alert(ctx, alertID)
	switch {
	case errors.Is(err, flashwire.ErrNotFound):
		// Its state expired: only the id is known, and nothing can reach it.
		cur = flashwire.Alert{ID: alertID, Headline: a.Headline}
	case err != nil:
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "changed", "0")
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	state := statePushed
	if cur.Retracted {
		state = stateRetracted
	}
	err = w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+hash, "state", state, "alert", alertID, "headline", cur.Headline, "changed", millis(w.cfg.Now())).Err()
	if err != nil {
		// The claim goes stale again and the next poll after it retries.
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	w.cfg.Logger.Info("watch: alert of a dead claim found", "source", src.ID, "story", s.ID, "alert_id", alertID)
	switch {
	case state == stateRetracted || s.Status == StatusWithheld:
		return nil
	case s.Status == StatusCanceled:
		return w.cancelStory(ctx, src, s, hash)
	case a.Headline == "" || a.Headline == cur.Headline:
		return nil
	}
	return w.updateStory(ctx, src, s, hash, alertID, cur.Headline, a)
}

// publish sends a story this instance claimed in auto mode, behind the
// newsroom's guards: a duplicate of an alert already sent is recorded as
// that alert, so the story's updates and retraction reach it; a non-flash
// story within the minimum gap goes to the held queue for an editor.
func (w *Watcher) publish(ctx context.Context, src Source, s Story, hash string, a flashwire.Alert) error {
	key := keyStory + hash
	pub, repeat, err := w.cfg.Alerts.Publish(ctx, a, notifier.PublishOptions{Once: onceKey(hash)})
	var dup *notifier.DuplicateError
	var soon *notifier.TooSoonError
	switch {
	case errors.As(err, &dup) && dup.Existing.ID != "":
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "state", statePushed, "alert", dup.Existing.ID, "headline", a.Headline, "changed", millis(w.cfg.Now()))
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: "duplicate of an alert sent lately; its updates and retraction reach that alert", AlertID: dup.Existing.ID})
		return nil
	case errors.As(err, &soon):
		return w.holdClaimed(ctx, src, s, hash, a, heldTooSoon,
			fmt.Sprintf("held: the minimum gap between non-flash alerts had not passed (%s left)", soon.RetryAfter.Round(time.Second)))
	case errors.Is(err, flashwire.ErrInvalid):
		// Not pushable as it is: an editor may fix it.
		return w.holdClaimed(ctx, src, s, hash, a, heldUnpushable, "held: cannot be pushed as it is: "+err.Error())
	case errors.As(err, &dup):
		// The same story is being published right now, perhaps by a
		// stalled instance under this very claim: look again once the
		// claim's lease ends.
		return nil
	case err != nil:
		// Mark the claim stale so the next poll tries again; the once key
		// keeps a publish that went through unseen from going twice.
		w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "changed", "0")
		return fmt.Errorf("publish %q: %w", a.Headline, err)
	}
	// The headline that went out, so a later poll sends an update when the
	// feed's differs (a repeat may be an earlier version's).
	sent := pub.Headline
	if sent == "" {
		sent = a.Headline
	}
	w.cfg.Redis.HSet(context.WithoutCancel(ctx), key, "state", statePushed, "alert", pub.ID, "headline", sent, "changed", millis(w.cfg.Now()))
	if repeat {
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomePushed, Reason: "found already published under the story's once key", Headline: sent, AlertID: pub.ID})
		return nil
	}
	w.store.countAlert(ctx, src.ID)
	w.metrics.alerts.Inc()
	w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomePushed, Headline: sent, AlertID: pub.ID})
	return nil
}

// holdClaimed moves a story this instance claimed to the held queue with
// its draft a and the reason, counted under label.
func (w *Watcher) holdClaimed(ctx context.Context, src Source, s Story, hash string, a flashwire.Alert, label, reason string) error {
	bg := context.WithoutCancel(ctx)
	w.cfg.Redis.HSet(bg, keyStory+hash, "reason", reason)
	_, moved, err := w.move(bg, hash, statePending, stateHeld, "", a.Headline, draftJSON(a))
	if err != nil {
		return err
	}
	if moved {
		w.metrics.held.WithLabelValues(label).Inc()
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeHeld, Reason: reason})
	}
	return nil
}
