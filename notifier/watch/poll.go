package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"flashwire"
)

// poll fetches a source once and handles each of its stories.
func (w *Watcher) poll(ctx context.Context, src Source) error {
	st, err := w.store.state(ctx, src.ID)
	if err != nil {
		return err
	}
	firstPoll := st.LastSuccess.IsZero()
	got, err := w.fetch(ctx, src, st)
	if err == nil && got.notModified {
		w.store.recordSuccess(ctx, src.ID, w.cfg.Now(), "", "", 0, false)
		w.metrics.polls.WithLabelValues(pollNotModified).Inc()
		return nil
	}
	var stories []Story
	if err == nil {
		stories, err = Parse(got.body, src.Format)
	}
	if err != nil {
		w.metrics.polls.WithLabelValues(pollFailed).Inc()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := w.store.recordError(ctx, src.ID, w.cfg.Now(), err.Error(), w.cfg.Backoff)
		w.cfg.Logger.Warn("watch: source failed", "source", src.ID, "url", src.URL, "error", err.Error(), "backoff", wait.String())
		return fmt.Errorf("poll source %s: %w", src.ID, err)
	}
	w.store.recordSuccess(ctx, src.ID, w.cfg.Now(), got.etag, got.lastModified, len(stories), true)
	w.metrics.items.Add(float64(len(stories)))
	var problems []string
	seen := make(map[string]bool, len(stories))
	for _, s := range stories {
		seen[storyHash(src.ID, s.ID)] = true
		if err := w.handle(ctx, src, s, firstPoll); err != nil {
			problems = append(problems, err.Error())
			w.cfg.Logger.Warn("watch: story not pushed", "source", src.ID, "story", s.ID, "error", err.Error())
		}
	}
	w.forgetGone(ctx, src.ID, seen)
	if len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		w.cfg.Redis.HSet(ctx, keyState+src.ID, "last_error", clip(msg, 1000), "last_error_at", millis(w.cfg.Now()))
		w.metrics.polls.WithLabelValues(pollStoryFailed).Inc()
		return fmt.Errorf("poll source %s: %s", src.ID, msg)
	}
	w.metrics.polls.WithLabelValues(pollOK).Inc()
	return nil
}

// handle decides what becomes of one story of a poll, and records the
// outcome of each version it decides on (pushed, held or skipped).
func (w *Watcher) handle(ctx context.Context, src Source, s Story, firstPoll bool) error {
	now := w.cfg.Now()
	hash := storyHash(src.ID, s.ID)
	key := keyStory + hash
	rec, err := w.cfg.Redis.HMGet(ctx, key, "state", "alert", "headline", "error", "unsent", "source", "edited").Result()
	if err != nil {
		return fmt.Errorf("story %s: %w", s.ID, err)
	}
	state, _ := rec[0].(string)
	alertID, _ := rec[1].(string)
	headline, _ := rec[2].(string)
	a, linkProblem := w.alert(src, s)
	switch state {
	case statePending, stateSending:
		// Before the feed's status: a claim may hide an alert that a
		// cancellation must retract.
		return w.takeOver(ctx, src, s, hash, state, a)
	case stateRetracting:
		// The agency killed the story once: whatever the feed says now,
		// a retraction begun is finished.
		took, err := w.reclaim(ctx, hash, stateRetracting)
		if err != nil || !took {
			return err
		}
		return w.retract(ctx, src, s, hash)
	case stateUpdating:
		took, err := w.reclaim(ctx, hash, stateUpdating)
		if err != nil || !took {
			return err
		}
		return w.resumeUpdate(ctx, src, s, hash, alertID, a)
	case stateUnretracted:
		problem, _ := rec[3].(string)
		return w.unretracted(ctx, s, hash, alertID, problem)
	}
	switch s.Status {
	case StatusCanceled:
		return w.cancelStory(ctx, src, s, hash)
	case StatusWithheld:
		// Not to be used until further notice: a later usable version may
		// still be pushed.
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: "withheld by the agency (pubstatus withheld)"})
		return nil
	}
	if state != "" && state != stateOld {
		if owner, _ := rec[5].(string); owner != "" && owner != src.ID {
			// Another source carries the same story (a URN or URL
			// identity): its record decides, and this source says so.
			reason := fmt.Sprintf("duplicate: the same story from source %s is %s", owner, state)
			if state == statePushed {
				reason = "duplicate: already pushed from source " + owner
			}
			w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: reason, AlertID: alertID})
		}
		if a.Headline == headline || a.Headline == "" {
			return nil
		}
		switch state {
		case statePushed:
			problem, _ := rec[3].(string)
			if unsent, _ := rec[4].(string); problem != "" && a.Headline == unsent {
				return w.unupdated(ctx, hash, alertID, a.Headline, problem)
			}
			return w.updateStory(ctx, src, s, hash, alertID, headline, a)
		case stateHeld:
			if edited, _ := rec[6].(string); edited != "" {
				// An editor's version of the story stands.
				return nil
			}
			_, _, err := w.move(ctx, hash, stateHeld, stateHeld, headline, a.Headline, draftJSON(a))
			return err
		}
		return nil
	}
	if !src.Breaking.Breaking(s) {
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: reasonNotFlagged})
		return nil
	}
	if !s.Embargo.IsZero() && now.Before(s.Embargo) {
		// Looked at again on every poll; pushed on the first after it ends.
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: "embargoed until " + s.Embargo.UTC().Format(time.RFC3339)})
		return nil
	}
	initial, reason := statePending, ""
	t := s.effectiveTime()
	switch {
	case t.IsZero() && firstPoll:
		// Undated items on a source's first poll count as old: adding a
		// source must not flood readers with its back catalogue.
		initial, reason = stateOld, "too old: undated, and seen on the source's first poll"
	case !t.IsZero() && now.Sub(t) > src.maxAge():
		initial, reason = stateOld, fmt.Sprintf("too old: this version is of %s, more than max_age (%s) ago", t.UTC().Format(time.RFC3339), src.MaxAge)
	case linkProblem != "":
		initial, reason = stateHeld, "held: "+linkProblem
	default:
		if problem := w.unpushable(ctx, a); problem != "" {
			initial, reason = stateHeld, "held: cannot be pushed as it is: "+problem
		} else if src.Mode == ModeHold {
			initial, reason = stateHeld, reasonHoldMode
		}
	}
	held := ""
	if initial == stateHeld {
		held = reason
	}
	ok, err := w.claim(ctx, src, s, hash, initial, held, a)
	if err != nil {
		return err
	}
	switch {
	case initial == stateOld:
		// An old version is said once; the record blocks nothing newer.
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeSkipped, Reason: reason})
		return nil
	case !ok:
		// Another poll (this source's on another instance, or another
		// source's) has the story; it records the outcome.
		return nil
	case initial == stateHeld:
		label := heldUnpushable
		if reason == reasonHoldMode {
			label = heldMode
		}
		w.metrics.held.WithLabelValues(label).Inc()
		w.record(ctx, src, s, hash, StoryOutcome{Outcome: OutcomeHeld, Reason: reason})
		return nil
	}
	return w.publish(ctx, src, s, hash, a)
}

// reasonHoldMode is the held reason of a story from a hold-mode source.
const reasonHoldMode = "held: the source is in hold mode"

// unpushable says why alert a fails the checks a publish makes (an
// invalid field, a topic or region no longer known), or "".
func (w *Watcher) unpushable(ctx context.Context, a flashwire.Alert) string {
	err := w.cfg.Alerts.Check(ctx, &a)
	if !errors.Is(err, flashwire.ErrInvalid) {
		// Nil, or the taxonomy unreadable: Publish checks again and
		// fails alike, and the poll retries then.
		return ""
	}
	return err.Error()
}

// alert turns a story into the alert it would push. Priority: flash for
// ninjs urgency 1, urgent for everything else the rule flags. The link is
// the reader-facing one (readerLink); without one, linkProblem says why.
func (w *Watcher) alert(src Source, s Story) (a flashwire.Alert, linkProblem string) {
	link, linkProblem := readerLink(src, s)
	headline, _ := src.Breaking.withDefaults().cutPrefix(s.Headline)
	topics := append([]string(nil), src.Topics...)
	for _, t := range s.Terms {
		if topic, ok := src.CategoryTopics[strings.ToLower(strings.TrimSpace(t))]; ok {
			topics = append(topics, topic)
		}
	}
	lang := src.Language
	if lang == "" && flashwire.ValidLanguageTag(s.Language) {
		lang = s.Language
	}
	if lang == "" {
		lang = "en"
	}
	priority := flashwire.Urgent
	if s.Urgency == 1 {
		priority = flashwire.Flash
	}
	a = flashwire.Alert{
		Headline: clip(headline, flashwire.MaxHeadline),
		Summary:  clip(s.Summary, flashwire.MaxSummary),
		URL:      link,
		ImageURL: s.ImageURL,
		Topics:   topics,
		Regions:  append([]string(nil), src.Regions...),
		Language: lang,
		Priority: priority,
	}
	a.Normalize()
	return a, linkProblem
}
