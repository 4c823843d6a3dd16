package watch

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

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
	ID string `json:"id"`
	// Name is how editors know the source ("AP world wire"); empty takes
	// the feed's host.
	Name   string `json:"name"`
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
	// MaxAge is a duration such as "2h": older story versions are never
	// pushed.
	MaxAge string `json:"max_age"`
	// LinkTemplate, when set, builds each alert's link from the item
	// ("https://news.example/{id}"; placeholders {guid}, {uri}, {id},
	// {slug}, URL-escaped); otherwise the item's own public web link is
	// used, and an item without one is held.
	LinkTemplate string    `json:"link_template,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
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
	Name           *string            `json:"name"`
	LinkTemplate   *string            `json:"link_template"`
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
	if p.Name != nil {
		s.Name = *p.Name
	}
	if p.LinkTemplate != nil {
		s.LinkTemplate = *p.LinkTemplate
	}
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

// minInterval is the shortest wait between two polls a schedule may ask for.
const minInterval = time.Second

// maxSourceName bounds a source's name, in characters.
const maxSourceName = 100

// checkSchedule says what is wrong with a schedule, or "" when it is good:
// a cron spec or descriptor, and no "@every" shorter than minInterval (the
// cron library would quietly round 1ns or -1s up to a second).
func checkSchedule(spec string) string {
	const example = `for example "*/30 * * * * *" or "@every 15s"`
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return fmt.Sprintf("%q is not a cron schedule (%s): %q is not a duration", spec, example, strings.TrimSpace(rest))
		}
		if d < minInterval {
			return fmt.Sprintf("%q polls more often than once every %s", spec, minInterval)
		}
	}
	if _, err := ParseSchedule(spec); err != nil {
		return fmt.Sprintf("%q is not a cron schedule (%s): %v", spec, example, err)
	}
	return ""
}

// normalize trims and fills defaults.
func (s *Source) normalize() {
	s.URL = strings.TrimSpace(s.URL)
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		s.Name = s.displayName()
	}
	s.LinkTemplate = strings.TrimSpace(s.LinkTemplate)
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
	if problem := checkSchedule(s.Schedule); problem != "" {
		bad.Add("schedule", "%s", problem)
	}
	bad.Text("name", s.Name, maxSourceName)
	if s.LinkTemplate != "" {
		if problem := checkLinkTemplate(s.LinkTemplate); problem != "" {
			bad.Add("link_template", "%s", problem)
		}
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
		if problem := flashwire.CheckText(c); problem != "" {
			bad.Add("category_topics", "a category %s", problem)
		} else if t := s.CategoryTopics[c]; !topics[t] {
			bad.Add("category_topics", "%q maps to %q, which is not a known topic", c, t)
		}
	}
	if n := *s.Breaking.MaxUrgency; n < 0 || n > 9 {
		bad.Add("breaking.max_urgency", "is %d; it must be 0 (off) or 1 to 9", n)
	}
	for _, l := range s.Breaking.Labels {
		if strings.TrimSpace(l) == "" {
			bad.Add("breaking.labels", "must not hold empty labels")
		} else if problem := flashwire.CheckText(l); problem != "" {
			bad.Add("breaking.labels", "a label %s", problem)
		}
	}
	for _, p := range s.Breaking.TitlePrefixes {
		if strings.TrimSpace(p) == "" {
			bad.Add("breaking.title_prefixes", "must not hold empty prefixes")
		} else if problem := flashwire.CheckText(p); problem != "" {
			bad.Add("breaking.title_prefixes", "a prefix %s", problem)
		}
	}
	if d, err := time.ParseDuration(s.MaxAge); err != nil || d <= 0 {
		bad.Add("max_age", "%q is not a positive duration such as 2h or 30m", s.MaxAge)
	}
}

// displayName is the source's name, else its feed's host.
func (s Source) displayName() string {
	if s.Name != "" {
		return s.Name
	}
	if u, err := url.Parse(s.URL); err == nil {
		return u.Hostname()
	}
	return s.URL
}

func (s Source) maxAge() time.Duration {
	d, err := time.ParseDuration(s.MaxAge)
	if err != nil || d <= 0 {
		return DefaultMaxAge
	}
	return d
}

// checkSource normalizes s and validates it against the taxonomy.
func (w *Watcher) checkSource(ctx context.Context, s *Source) error {
	s.normalize()
	topics, regions, err := w.cfg.Taxonomy.KnownSlugs(ctx)
	if err != nil {
		return fmt.Errorf("load taxonomy: %w", err)
	}
	var bad flashwire.InvalidError
	s.check(&bad, topics, regions)
	// An address the fetch would refuse, given as an IP literal, is refused
	// now rather than at every poll; names are judged when dialled.
	if s.URL != "" && flashwire.CheckWebURL(s.URL) == "" {
		if err := w.cfg.Outbound.Allow.CheckURL(s.URL); err != nil {
			bad.Add("url", "is not one feeds may be fetched from: %v", err)
		}
	}
	return bad.Err()
}
