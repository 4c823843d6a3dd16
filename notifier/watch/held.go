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

// HeldStory is a breaking story waiting for an editor to send or dismiss
// it: from a hold-mode source, or one that could not be pushed as it is.
type HeldStory struct {
	// ID names the held story in the API.
	ID         string `json:"id"`
	SourceID   string `json:"source_id"`
	SourceName string `json:"source_name"`
	// StoryID is the item's identity in its feed (guid, uri or link).
	StoryID string `json:"story_id"`
	// PublishedAt is the time of the held version (ninjs versioncreated,
	// else when the story appeared); absent when the item is undated.
	PublishedAt time.Time `json:"published_at,omitzero"`
	// Alert is what sending publishes.
	Alert  Draft     `json:"alert"`
	HeldAt time.Time `json:"held_at"`
	// Reason says why the story waits for an editor.
	Reason string `json:"reason"`
	// Edited is true once an editor changed the draft; the feed's later
	// headlines no longer replace it.
	Edited bool `json:"edited,omitempty"`
}

// Draft is the alert a held story would publish: an alert without an id or
// a publication time yet.
type Draft struct {
	Headline string             `json:"headline"`
	Summary  string             `json:"summary,omitempty"`
	URL      string             `json:"url"`
	ImageURL string             `json:"image_url,omitempty"`
	Topics   []string           `json:"topics"`
	Regions  []string           `json:"regions"`
	Language string             `json:"language"`
	Priority flashwire.Priority `json:"priority"`
}

func draftOf(a flashwire.Alert) Draft {
	return Draft{Headline: a.Headline, Summary: a.Summary, URL: a.URL, ImageURL: a.ImageURL,
		Topics: a.Topics, Regions: a.Regions, Language: a.Language, Priority: a.Priority}
}

// asAlert is the alert d publishes.
func (d Draft) asAlert() flashwire.Alert {
	return flashwire.Alert{Headline: d.Headline, Summary: d.Summary, URL: d.URL, ImageURL: d.ImageURL,
		Topics: d.Topics, Regions: d.Regions, Language: d.Language, Priority: d.Priority}
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
	sources, err := w.store.all(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(sources))
	for _, s := range sources {
		names[s.ID] = s.displayName()
	}
	cmds := make([]*redis.SliceCmd, len(hashes))
	_, err = w.cfg.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			cmds[i] = p.HMGet(ctx, keyStory+h, heldFields...)
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
		hs.SourceName = names[hs.SourceID]
		out = append(out, hs)
	}
	return out, nil
}

// heldFields are the story record's fields a HeldStory is read from.
var heldFields = []string{"state", "source", "story", "draft", "first_seen", "reason", "version", "edited", "changed"}

func heldFrom(hash string, vals []any) (HeldStory, bool) {
	if len(vals) != len(heldFields) {
		return HeldStory{}, false
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	if str(0) != stateHeld {
		return HeldStory{}, false
	}
	hs := HeldStory{ID: hash, SourceID: str(1), StoryID: str(2), HeldAt: parseMillis(str(4)), Reason: str(5),
		PublishedAt: parseMillis(str(6)), Edited: str(7) != ""}
	if hs.Reason == "" {
		hs.Reason = reasonHoldMode
	}
	var a flashwire.Alert
	if err := json.Unmarshal([]byte(str(3)), &a); err != nil {
		return HeldStory{}, false
	}
	hs.Alert = draftOf(a)
	return hs, true
}

// HeldPatch is an editor's change of a held story before sending it: nil
// fields stay as they are.
type HeldPatch struct {
	Headline *string   `json:"headline"`
	Summary  *string   `json:"summary"`
	URL      *string   `json:"url"`
	Topics   *[]string `json:"topics"`
	Regions  *[]string `json:"regions"`
}

// editScript replaces a held story's draft, only while it is held, and
// marks it edited so the feed's later headlines leave it alone. It returns
// the state found.
// KEYS: story record. ARGV: draft JSON.
var editScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'held' then return st or '' end
redis.call('HSET', KEYS[1], 'draft', ARGV[1], 'edited', '1')
return st`)

// Edit changes a held story's alert before it is sent, checked as an
// editor's own alert is (an InvalidError naming each bad field).
func (w *Watcher) Edit(ctx context.Context, id string, p HeldPatch) (HeldStory, error) {
	vals, err := w.cfg.Redis.HMGet(ctx, keyStory+id, heldFields...).Result()
	if err != nil {
		return HeldStory{}, fmt.Errorf("held story %s: %w", id, err)
	}
	hs, ok := heldFrom(id, vals)
	if !ok {
		state, _ := vals[0].(string)
		return HeldStory{}, heldError(id, state)
	}
	var a flashwire.Alert
	if err := json.Unmarshal([]byte(vals[3].(string)), &a); err != nil {
		return HeldStory{}, fmt.Errorf("held story %s: %w", id, err)
	}
	if p.Headline != nil {
		a.Headline = *p.Headline
	}
	if p.Summary != nil {
		a.Summary = *p.Summary
	}
	if p.URL != nil {
		a.URL = *p.URL
	}
	if p.Topics != nil {
		a.Topics = *p.Topics
	}
	if p.Regions != nil {
		a.Regions = *p.Regions
	}
	if err := w.cfg.Alerts.Check(ctx, &a); err != nil {
		return HeldStory{}, err
	}
	found, err := editScript.Run(ctx, w.cfg.Redis, []string{keyStory + id}, draftJSON(a)).Text()
	if err != nil {
		return HeldStory{}, fmt.Errorf("held story %s: %w", id, err)
	}
	if found != stateHeld {
		return HeldStory{}, heldError(id, found)
	}
	hs.Alert, hs.Edited = draftOf(a), true
	if src, err := w.store.get(ctx, hs.SourceID); err == nil {
		hs.SourceName = src.displayName()
	}
	return hs, nil
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
	w.recordEditor(ctx, id, StoryOutcome{Outcome: OutcomePushed, Reason: "sent by an editor", Headline: pub.Headline, AlertID: pub.ID})
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
	w.recordEditor(ctx, id, StoryOutcome{Outcome: OutcomeSkipped, Reason: "dismissed by an editor"})
	return nil
}

func heldError(id, found string) error {
	if found == "" {
		return fmt.Errorf("held story %s: %w", id, flashwire.ErrNotFound)
	}
	return fmt.Errorf("held story %s (%s): %w", id, found, ErrNotHeld)
}
