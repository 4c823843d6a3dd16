package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"flashwire"
)

// ErrNotHeld means the story was already sent or dismissed.
var ErrNotHeld = flashwire.NewError(flashwire.ErrConflict, "story is no longer held: it was sent or dismissed")

// The source modes.
const (
	ModeAuto = "auto"
	ModeHold = "hold"
)

// DefaultMaxAge is how old a story may be when first seen and still be
// pushed.
const DefaultMaxAge = 2 * time.Hour

// Source is one feed Flashwire watches.
type Source struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Format string `json:"format"`
	// Schedule is a cron spec with optional seconds ("*/30 * * * * *",
	// "0 */5 * * * *", "*/5 * * * *") or a descriptor ("@every 15s").
	Schedule string `json:"schedule"`
	Mode     string `json:"mode"`
	// Topics and Regions are given to every alert from the source.
	Topics  []string `json:"topics"`
	Regions []string `json:"regions"`
	// Language is the alerts' language; empty takes the feed's, else "en".
	Language string `json:"language"`
	// CategoryTopics maps a feed category (compared without regard to
	// case) to a further topic.
	CategoryTopics map[string]string `json:"category_topics"`
	Breaking       Rule              `json:"breaking"`
	// MaxAge is a duration such as "2h": older stories are never pushed.
	MaxAge    string    `json:"max_age"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// State is filled when a source is read; it is never stored with it.
	State *State `json:"state,omitempty"`
}

// State is how polling a source is going.
type State struct {
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the last fetch or parse problem in plain words, cleared
	// by the next success.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Failures counts errors in a row; the source backs off after each.
	Failures int `json:"failures"`
	// ItemsSeen is the number of items in the feed when last read.
	ItemsSeen int64 `json:"items_seen"`
	// AlertsMade counts alerts published or held from the source.
	AlertsMade int64 `json:"alerts_made"`
	// NextRun is when the source is polled next, after any backoff.
	NextRun time.Time `json:"next_run,omitzero"`
	// BackoffUntil is when polling resumes after errors.
	BackoffUntil time.Time `json:"backoff_until,omitzero"`
	etag         string
	lastModified string
}

// SourcePatch is a partial change of a source: nil fields stay as they are.
type SourcePatch struct {
	URL            *string            `json:"url"`
	Format         *string            `json:"format"`
	Schedule       *string            `json:"schedule"`
	Mode           *string            `json:"mode"`
	Topics         *[]string          `json:"topics"`
	Regions        *[]string          `json:"regions"`
	Language       *string            `json:"language"`
	CategoryTopics *map[string]string `json:"category_topics"`
	Breaking       *Rule              `json:"breaking"`
	MaxAge         *string            `json:"max_age"`
}

// Apply sets the fields of s that p gives.
func (p SourcePatch) Apply(s *Source) {
	if p.URL != nil {
		s.URL = *p.URL
	}
	if p.Format != nil {
		s.Format = *p.Format
	}
	if p.Schedule != nil {
		s.Schedule = *p.Schedule
	}
	if p.Mode != nil {
		s.Mode = *p.Mode
	}
	if p.Topics != nil {
		s.Topics = *p.Topics
	}
	if p.Regions != nil {
		s.Regions = *p.Regions
	}
	if p.Language != nil {
		s.Language = *p.Language
	}
	if p.CategoryTopics != nil {
		s.CategoryTopics = *p.CategoryTopics
	}
	if p.Breaking != nil {
		s.Breaking = *p.Breaking
	}
	if p.MaxAge != nil {
		s.MaxAge = *p.MaxAge
	}
}

// scheduleParser reads cron specs with an optional seconds field and
// descriptors such as @every 15s.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule reads a source's schedule.
func ParseSchedule(spec string) (cron.Schedule, error) {
	return scheduleParser.Parse(spec)
}

// normalize trims and fills defaults.
func (s *Source) normalize() {
	s.URL = strings.TrimSpace(s.URL)
	s.Format = strings.ToLower(strings.TrimSpace(s.Format))
	if s.Format == "" {
		s.Format = FormatAuto
	}
	s.Schedule = strings.TrimSpace(s.Schedule)
	if s.Schedule == "" {
		s.Schedule = "@every 1m"
	}
	s.Mode = strings.ToLower(strings.TrimSpace(s.Mode))
	if s.Mode == "" {
		s.Mode = ModeAuto
	}
	s.Topics = flashwire.NormalizeSlugs(s.Topics)
	s.Regions = flashwire.NormalizeSlugs(s.Regions)
	s.Language = strings.TrimSpace(s.Language)
	ct := make(map[string]string, len(s.CategoryTopics))
	for k, v := range s.CategoryTopics {
		if k = strings.TrimSpace(k); k != "" {
			ct[strings.ToLower(k)] = strings.ToLower(strings.TrimSpace(v))
		}
	}
	s.CategoryTopics = ct
	s.Breaking = s.Breaking.withDefaults()
	s.MaxAge = strings.TrimSpace(s.MaxAge)
	if s.MaxAge == "" {
		s.MaxAge = DefaultMaxAge.String()
	}
}

// check records every problem with s in bad; topics and regions are the
// known slugs.
func (s *Source) check(bad *flashwire.InvalidError, topics, regions map[string]bool) {
	if s.URL == "" {
		bad.Add("url", "is required")
	} else if problem := flashwire.CheckWebURL(s.URL); problem != "" {
		bad.Add("url", "%s", problem)
	}
	switch s.Format {
	case FormatAuto, FormatRSS, FormatAtom, FormatJSONFeed, FormatNinjs:
	default:
		bad.Add("format", "%q is not one of auto, rss, atom, jsonfeed, ninjs", s.Format)
	}
	if _, err := ParseSchedule(s.Schedule); err != nil {
		bad.Add("schedule", "%q is not a cron schedule (for example \"*/30 * * * * *\" or \"@every 15s\"): %v", s.Schedule, err)
	}
	switch s.Mode {
	case ModeAuto, ModeHold:
	default:
		bad.Add("mode", "%q is not one of auto, hold", s.Mode)
	}
	if len(s.Topics) == 0 {
		bad.Add("topics", "needs at least one topic: every alert needs one")
	}
	for _, t := range s.Topics {
		if !topics[t] {
			bad.Add("topics", "%q is not a known topic", t)
		}
	}
	for _, r := range s.Regions {
		if !regions[r] {
			bad.Add("regions", "%q is not a known region", r)
		}
	}
	if s.Language != "" && !flashwire.ValidLanguageTag(s.Language) {
		bad.Add("language", "%q is not a BCP 47 language tag such as en or pt-BR", s.Language)
	}
	cats := make([]string, 0, len(s.CategoryTopics))
	for c := range s.CategoryTopics {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		if t := s.CategoryTopics[c]; !topics[t] {
			bad.Add("category_topics", "%q maps to %q, which is not a known topic", c, t)
		}
	}
	if n := *s.Breaking.MaxUrgency; n < 0 || n > 9 {
		bad.Add("breaking.max_urgency", "is %d; it must be 0 (off) or 1 to 9", n)
	}
	for _, l := range s.Breaking.Labels {
		if strings.TrimSpace(l) == "" {
			bad.Add("breaking.labels", "must not hold empty labels")
		}
	}
	for _, p := range s.Breaking.TitlePrefixes {
		if strings.TrimSpace(p) == "" {
			bad.Add("breaking.title_prefixes", "must not hold empty prefixes")
		}
	}
	if d, err := time.ParseDuration(s.MaxAge); err != nil || d <= 0 {
		bad.Add("max_age", "%q is not a positive duration such as 2h or 30m", s.MaxAge)
	}
}

func (s Source) maxAge() time.Duration {
	d, err := time.ParseDuration(s.MaxAge)
	if err != nil || d <= 0 {
		return DefaultMaxAge
	}
	return d
}

const (
	keySources = "flashwire:v1:{watch}:sources"
	keyState   = "flashwire:v1:{watch}:state:"
	keyLease   = "flashwire:v1:{watch}:lease:"
	keyStory   = "flashwire:v1:{watch}:story:"
	keyHeld    = "flashwire:v1:{watch}:held"
	chanChange = "flashwire:v1:{watch}:changed"
)

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "src_" + hex.EncodeToString(b)
}

// sourceStore reads and writes sources and their state.
type sourceStore struct {
	rdb redis.UniversalClient
}

func (st sourceStore) all(ctx context.Context) ([]Source, error) {
	m, err := st.rdb.HGetAll(ctx, keySources).Result()
	if err != nil {
		return nil, fmt.Errorf("load sources: %w", err)
	}
	out := make([]Source, 0, len(m))
	for id, raw := range m {
		var s Source
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return nil, fmt.Errorf("load source %s: %w", id, err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (st sourceStore) get(ctx context.Context, id string) (Source, error) {
	raw, err := st.rdb.HGet(ctx, keySources, id).Result()
	if errors.Is(err, redis.Nil) {
		return Source{}, fmt.Errorf("source %s: %w", id, flashwire.ErrNotFound)
	}
	if err != nil {
		return Source{}, fmt.Errorf("load source %s: %w", id, err)
	}
	var s Source
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Source{}, fmt.Errorf("load source %s: %w", id, err)
	}
	return s, nil
}

func (st sourceStore) put(ctx context.Context, s Source) error {
	s.State = nil
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save source %s: %w", s.ID, err)
	}
	if err := st.rdb.HSet(ctx, keySources, s.ID, raw).Err(); err != nil {
		return fmt.Errorf("save source %s: %w", s.ID, err)
	}
	st.rdb.Publish(ctx, chanChange, s.ID)
	return nil
}

func (st sourceStore) delete(ctx context.Context, id string) error {
	n, err := st.rdb.HDel(ctx, keySources, id).Result()
	if err != nil {
		return fmt.Errorf("delete source %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("source %s: %w", id, flashwire.ErrNotFound)
	}
	st.rdb.Del(ctx, keyState+id)
	st.rdb.Publish(ctx, chanChange, id)
	return nil
}

func (st sourceStore) state(ctx context.Context, id string) (State, error) {
	m, err := st.rdb.HGetAll(ctx, keyState+id).Result()
	if err != nil {
		return State{}, fmt.Errorf("load state of source %s: %w", id, err)
	}
	var s State
	s.LastSuccess = parseMillis(m["last_success"])
	s.LastError = m["last_error"]
	s.LastErrorAt = parseMillis(m["last_error_at"])
	s.Failures, _ = strconv.Atoi(m["failures"])
	s.ItemsSeen, _ = strconv.ParseInt(m["items_seen"], 10, 64)
	s.AlertsMade, _ = strconv.ParseInt(m["alerts_made"], 10, 64)
	s.BackoffUntil = parseMillis(m["backoff_until"])
	s.etag = m["etag"]
	s.lastModified = m["last_modified"]
	return s, nil
}

func parseMillis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// recordSuccess notes a good fetch: the validators for the next
// conditional GET, the item count (unless unchanged), and no error.
func (st sourceStore) recordSuccess(ctx context.Context, id string, now time.Time, etag, lastModified string, items int, changed bool) {
	fields := map[string]any{
		"last_success": millis(now), "last_error": "", "last_error_at": "",
		"failures": 0, "backoff_until": "",
	}
	if changed {
		fields["etag"] = etag
		fields["last_modified"] = lastModified
		fields["items_seen"] = items
	}
	st.rdb.HSet(ctx, keyState+id, fields)
}

// recordError notes a failed fetch or parse and returns the backoff.
func (st sourceStore) recordError(ctx context.Context, id string, now time.Time, problem string, base time.Duration) time.Duration {
	n, err := st.rdb.HIncrBy(ctx, keyState+id, "failures", 1).Result()
	if err != nil {
		n = 1
	}
	d := backoff(base, int(n))
	st.rdb.HSet(ctx, keyState+id, "last_error", problem, "last_error_at", millis(now), "backoff_until", millis(now.Add(d)))
	return d
}

// maxBackoff caps the wait after repeated errors.
const maxBackoff = 30 * time.Minute

// backoff doubles from base with each failure in a row, up to maxBackoff.
func backoff(base time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (st sourceStore) countAlert(ctx context.Context, id string) {
	st.rdb.HIncrBy(ctx, keyState+id, "alerts_made", 1)
}

// Sources returns every source with its state, oldest first.
func (w *Watcher) Sources(ctx context.Context) ([]Source, error) {
	all, err := w.store.all(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if err := w.withState(ctx, &all[i]); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Source returns one source with its state.
func (w *Watcher) Source(ctx context.Context, id string) (Source, error) {
	s, err := w.store.get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	return s, w.withState(ctx, &s)
}

func (w *Watcher) withState(ctx context.Context, s *Source) error {
	st, err := w.store.state(ctx, s.ID)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	if sched, err := ParseSchedule(s.Schedule); err == nil {
		st.NextRun = sched.Next(now).UTC()
		if st.BackoffUntil.After(now) {
			// The first scheduled run after the backoff ends.
			st.NextRun = sched.Next(st.BackoffUntil.Add(-time.Nanosecond)).UTC()
		}
	}
	s.State = &st
	return nil
}

// CreateSource validates s against the taxonomy, stores it and schedules
// it on every instance.
func (w *Watcher) CreateSource(ctx context.Context, s Source) (Source, error) {
	s.ID = ""
	if err := w.checkSource(ctx, &s); err != nil {
		return Source{}, err
	}
	s.ID = newID()
	s.CreatedAt = w.cfg.Now().UTC().Truncate(time.Millisecond)
	s.UpdatedAt = s.CreatedAt
	if err := w.store.put(ctx, s); err != nil {
		return Source{}, err
	}
	w.reloadNow(ctx)
	return w.Source(ctx, s.ID)
}

// UpdateSource applies p to a source. A new URL starts its fetch state
// afresh.
func (w *Watcher) UpdateSource(ctx context.Context, id string, p SourcePatch) (Source, error) {
	s, err := w.store.get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	oldURL := s.URL
	p.Apply(&s)
	if err := w.checkSource(ctx, &s); err != nil {
		return Source{}, err
	}
	s.UpdatedAt = w.cfg.Now().UTC().Truncate(time.Millisecond)
	if !s.UpdatedAt.After(s.CreatedAt) {
		s.UpdatedAt = s.CreatedAt.Add(time.Millisecond)
	}
	if s.URL != oldURL {
		w.cfg.Redis.HDel(ctx, keyState+id, "etag", "last_modified", "backoff_until", "failures")
	}
	if err := w.store.put(ctx, s); err != nil {
		return Source{}, err
	}
	w.reloadNow(ctx)
	return w.Source(ctx, s.ID)
}

// DeleteSource stops watching a source. Its stories' records stay, so
// adding it back does not push them again.
func (w *Watcher) DeleteSource(ctx context.Context, id string) error {
	if err := w.store.delete(ctx, id); err != nil {
		return err
	}
	w.reloadNow(ctx)
	return nil
}

// reloadNow brings this instance's schedules in step at once; the others
// follow on the change message.
func (w *Watcher) reloadNow(ctx context.Context) {
	if err := w.reload(ctx); err != nil {
		w.cfg.Logger.Warn("watch: reload sources", "error", err.Error())
	}
}
