package subscribers

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"flashwire"
)

// Limits on preferences.
const (
	MaxSlugs     = 50
	MaxLanguages = 20
)

var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Normalize trims and lower-cases slugs and priorities, drops duplicates and
// empty entries, and keeps times in UTC to the millisecond, which is the
// precision the Redis indexes hold.
func (p *Preferences) Normalize() {
	p.Topics = flashwire.NormalizeSlugs(p.Topics)
	p.Regions = flashwire.NormalizeSlugs(p.Regions)
	p.Languages = normalizeLanguages(p.Languages)
	p.MinPriority = flashwire.Priority(strings.ToLower(strings.TrimSpace(string(p.MinPriority))))
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
func (p *Preferences) Validate(bad *flashwire.InvalidError, topics, regions map[string]bool) {
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

func checkSlugs(bad *flashwire.InvalidError, field string, slugs []string, known map[string]bool, kind string) {
	if len(slugs) > MaxSlugs {
		bad.Add(field, "has %d entries; at most %d allowed", len(slugs), MaxSlugs)
		return
	}
	flashwire.CheckSlugs(bad, field, kind, slugs, known)
}

func checkLanguages(bad *flashwire.InvalidError, field string, langs []string) {
	if len(langs) > MaxLanguages {
		bad.Add(field, "has %d entries; at most %d allowed", len(langs), MaxLanguages)
		return
	}
	for _, l := range langs {
		if !flashwire.ValidLanguageTag(l) {
			bad.Add(field, "%q is not a BCP 47 language tag such as en or pt-BR", l)
			return
		}
	}
}

func checkPriority(bad *flashwire.InvalidError, field string, p flashwire.Priority) {
	if p != "" && p.Rank() == 0 {
		bad.Add(field, "%q is not one of flash, urgent, normal", p)
	}
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
