package subscribers

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"flashwire/internal/invalid"
)

// ErrNotFound means no reader or partner has the requested id, or no topic
// or region has the requested slug.
var ErrNotFound = errors.New("not found")

// Limits on preferences.
const (
	MaxSlugs     = 50
	MaxLanguages = 20
)

var (
	slugPattern     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	clockPattern    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// ValidSlug reports whether s can name a topic or region: lower-case
// letters and digits in words joined by single hyphens.
func ValidSlug(s string) bool {
	return len(s) <= 64 && slugPattern.MatchString(s)
}

// Normalize trims and lower-cases slugs and priorities, drops duplicates and
// empty entries, and keeps times in UTC to the millisecond, which is the
// precision the Redis indexes hold.
func (p *Preferences) Normalize() {
	p.Topics = NormalizeSlugs(p.Topics)
	p.Regions = NormalizeSlugs(p.Regions)
	p.Languages = normalizeLanguages(p.Languages)
	p.MinPriority = strings.ToLower(strings.TrimSpace(p.MinPriority))
	if p.PausedUntil != nil {
		t := p.PausedUntil.UTC().Truncate(time.Millisecond)
		p.PausedUntil = &t
	}
	if q := p.QuietHours; q != nil {
		q.Start = strings.TrimSpace(q.Start)
		q.End = strings.TrimSpace(q.End)
		q.TZ = strings.TrimSpace(q.TZ)
	}
}

// Validate records every problem with p's fields in bad. topics and
// regions are the known slugs.
func (p *Preferences) Validate(bad *invalid.Error, topics, regions map[string]bool) {
	checkSlugs(bad, "topics", p.Topics, topics, "topic")
	checkSlugs(bad, "regions", p.Regions, regions, "region")
	checkLanguages(bad, "languages", p.Languages)
	checkPriority(bad, "min_priority", p.MinPriority)
	if q := p.QuietHours; q != nil {
		if !clockPattern.MatchString(q.Start) {
			bad.Add("quiet_hours.start", "%q is not a 24-hour time HH:MM", q.Start)
		}
		if !clockPattern.MatchString(q.End) {
			bad.Add("quiet_hours.end", "%q is not a 24-hour time HH:MM", q.End)
		}
		if _, err := loadLocation(q.TZ); q.TZ == "" || err != nil {
			bad.Add("quiet_hours.tz", "%q is not an IANA time zone such as Europe/London", q.TZ)
		}
	}
}

// checked is what the store checks against the taxonomy: preferences and
// partners.
type checked interface {
	Normalize()
	Validate(bad *invalid.Error, topics, regions map[string]bool)
}

// check normalizes v and returns an *invalid.Error naming every field at
// fault, or nil.
func (s *Store) check(ctx context.Context, v checked) error {
	v.Normalize()
	topics, regions, err := s.KnownSlugs(ctx)
	if err != nil {
		return err
	}
	var bad invalid.Error
	v.Validate(&bad, topics, regions)
	return bad.Err()
}

func checkSlugs(bad *invalid.Error, field string, slugs []string, known map[string]bool, kind string) {
	if len(slugs) > MaxSlugs {
		bad.Add(field, "has %d entries; at most %d allowed", len(slugs), MaxSlugs)
		return
	}
	for _, s := range slugs {
		switch {
		case !ValidSlug(s):
			bad.Add(field, "%q is not a slug (lower-case letters, digits and hyphens)", s)
			return
		case !known[s]:
			bad.Add(field, "%q is not a known %s; see GET /api/v1/topics", s, kind)
			return
		}
	}
}

func checkLanguages(bad *invalid.Error, field string, langs []string) {
	if len(langs) > MaxLanguages {
		bad.Add(field, "has %d entries; at most %d allowed", len(langs), MaxLanguages)
		return
	}
	for _, l := range langs {
		if len(l) > 35 || !languagePattern.MatchString(l) {
			bad.Add(field, "%q is not a BCP 47 language tag such as en or pt-BR", l)
			return
		}
	}
}

func checkPriority(bad *invalid.Error, field, p string) {
	if p != "" && PriorityRank(p) == 0 {
		bad.Add(field, "%q is not one of flash, urgent, normal", p)
	}
}

// NormalizeSlugs trims and lower-cases each entry of in and drops empty
// entries and repeats, keeping the first of each in order.
func NormalizeSlugs(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func normalizeLanguages(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[strings.ToLower(s)] {
			continue
		}
		seen[strings.ToLower(s)] = true
		out = append(out, s)
	}
	return out
}

// locations caches time.LoadLocation, which reads the zone database from
// disk on every call; counting an audience evaluates every quiet-hours
// time zone in use.
var locations sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	// "Local" names the server's own zone: meaningless for a reader.
	if name == "Local" {
		return nil, errors.New("the server's local zone is not a reader's zone")
	}
	locations.Store(name, l)
	return l, nil
}
