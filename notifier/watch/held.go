package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/notifier"
)

// HeldStory is a breaking story from a hold-mode source, waiting for an
// editor to send or dismiss it.
type HeldStory struct {
	// ID names the held story in the API.
	ID       string `json:"id"`
	SourceID string `json:"source_id"`
	// StoryID is the item's identity in its feed (guid, uri or link).
	StoryID string `json:"story_id"`
	// Alert is what sending publishes (no id or publish time yet).
	Alert  flashwire.Alert `json:"alert"`
	HeldAt time.Time       `json:"held_at"`
	// Reason says why an auto-mode story waits for an editor (the minimum
	// gap had not passed, or an earlier send never finished); empty when
	// its source is in hold mode.
	Reason string `json:"reason,omitempty"`
}

func draftJSON(a flashwire.Alert) string {
	raw, _ := json.Marshal(a)
	return string(raw)
}

// Held returns the held stories, oldest first.
func (w *Watcher) Held(ctx context.Context) ([]HeldStory, error) {
	hashes, err := w.cfg.Redis.ZRange(ctx, keyHeld, 0, 499).Result()
	if err != nil {
		return nil, fmt.Errorf("load held stories: %w", err)
	}
	cmds := make([]*redis.SliceCmd, len(hashes))
	_, err = w.cfg.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			cmds[i] = p.HMGet(ctx, keyStory+h, "state", "source", "story", "draft", "first_seen", "reason")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load held stories: %w", err)
	}
	out := make([]HeldStory, 0, len(hashes))
	for i, h := range hashes {
		hs, ok := heldFrom(h, cmds[i].Val())
		if !ok {
			// The record expired or moved on: tidy the queue.
			w.cfg.Redis.ZRem(ctx, keyHeld, h)
			continue
		}
		out = append(out, hs)
	}
	return out, nil
}

func heldFrom(hash string, vals []any) (HeldStory, bool) {
	if len(vals) != 6 {
		return HeldStory{}, false
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	if str(0) != stateHeld {
		return HeldStory{}, false
	}
	hs := HeldStory{ID: hash, SourceID: str(1), StoryID: str(2), HeldAt: parseMillis(str(4)), Reason: str(5)}
	if err := json.Unmarshal([]byte(str(3)), &hs.Alert); err != nil {
		return HeldStory{}, false
	}
	return hs, true
}

// Send publishes a held story behind the newsroom's guards, as an editor's
// own alert would be: a *notifier.DuplicateError when the same url and
// headline went out lately, a *notifier.TooSoonError within the minimum gap
// for a non-flash story; the story stays held after those. Two editors
// clicking at once send it once: the second gets ErrNotHeld. The story is
// published under its once key, so a send that went through but was never
// recorded (the instance died) returns the alert it made instead of making
// another.
func (w *Watcher) Send(ctx context.Context, id string) (flashwire.Alert, error) {
	found, moved, err := w.move(ctx, id, stateHeld, stateSending, "", "", "")
	if err != nil {
		return flashwire.Alert{}, err
	}
	if !moved {
		return flashwire.Alert{}, heldError(id, found)
	}
	vals, err := w.cfg.Redis.HMGet(ctx, keyStory+id, "source", "draft").Result()
	if err != nil {
		w.backToHeld(ctx, id)
		return flashwire.Alert{}, fmt.Errorf("held story %s: %w", id, err)
	}
	source, _ := vals[0].(string)
	draft, _ := vals[1].(string)
	var a flashwire.Alert
	if err := json.Unmarshal([]byte(draft), &a); err != nil {
		w.backToHeld(ctx, id)
		return flashwire.Alert{}, fmt.Errorf("held story %s: %w", id, err)
	}
	pub, repeat, err := w.cfg.Alerts.Publish(ctx, a, notifier.PublishOptions{Once: onceKey(id)})
	if err != nil {
		w.backToHeld(ctx, id)
		return flashwire.Alert{}, err
	}
	w.cfg.Redis.HSet(context.WithoutCancel(ctx), keyStory+id, "state", statePushed, "alert", pub.ID, "changed", millis(w.cfg.Now()))
	if source != "" && !repeat {
		w.store.countAlert(ctx, source)
	}
	if !repeat {
		w.metrics.alerts.Inc()
	}
	return pub, nil
}

func (w *Watcher) backToHeld(ctx context.Context, id string) {
	_, _, _ = w.move(context.WithoutCancel(ctx), id, stateSending, stateHeld, "", "", "")
}

// Dismiss takes a held story off the queue for good.
func (w *Watcher) Dismiss(ctx context.Context, id string) error {
	found, moved, err := w.move(ctx, id, stateHeld, stateDismissed, "", "", "")
	if err != nil {
		return err
	}
	if !moved {
		return heldError(id, found)
	}
	return nil
}

func heldError(id, found string) error {
	if found == "" {
		return fmt.Errorf("held story %s: %w", id, flashwire.ErrNotFound)
	}
	return fmt.Errorf("held story %s (%s): %w", id, found, ErrNotHeld)
}
