package subscribers

import (
	"time"

	"flashwire"
)

// Preferences are what a reader (or a connection's query) asked for. Empty
// lists mean "any". On the alert's side, no topics reaches only those who
// named none, while no regions means every region.
type Preferences struct {
	Topics      []string           `json:"topics"`
	Regions     []string           `json:"regions"`
	Languages   []string           `json:"languages"`
	MinPriority flashwire.Priority `json:"min_priority"`
	QuietHours  *QuietHours        `json:"quiet_hours,omitempty"`
	PausedUntil *time.Time         `json:"paused_until,omitempty"`
}

// QuietHours is a daily span of local wall-clock time in which only flash
// alerts, and only when AllowFlash is set, get through.
type QuietHours struct {
	Start      string `json:"start"` // "22:00"
	End        string `json:"end"`   // "07:00"; before Start means across midnight
	TZ         string `json:"tz"`    // IANA zone such as "Europe/London"
	AllowFlash bool   `json:"allow_flash"`
}

// Matches reports whether an alert with attributes a, sent at now, is one
// that p asked for. It is the one matching rule of Flashwire: live
// connections, stored readers and partners all use it.
func (p Preferences) Matches(a flashwire.Attrs, now time.Time) bool {
	if p.PausedUntil != nil && now.Before(*p.PausedUntil) {
		return false
	}
	if min := p.MinPriority.Rank(); min > 0 && a.Priority.Rank() < min {
		return false
	}
	if len(p.Topics) > 0 && !intersects(p.Topics, a.Topics) {
		return false
	}
	// An alert with no regions is for every region.
	if len(p.Regions) > 0 && len(a.Regions) > 0 && !intersects(p.Regions, a.Regions) {
		return false
	}
	if len(p.Languages) > 0 && !languageMatches(p.Languages, a.Language) {
		return false
	}
	if p.QuietHours != nil && p.QuietHours.Quiet(now) {
		return a.Priority == flashwire.Flash && p.QuietHours.AllowFlash
	}
	return true
}

// Quiet reports whether now falls inside the quiet hours, read on the wall
// clock of q's time zone, so the span follows daylight-saving changes. A
// span whose start equals its end, or that cannot be read, is never quiet.
func (q QuietHours) Quiet(now time.Time) bool {
	start, ok1 := minuteOfDay(q.Start)
	end, ok2 := minuteOfDay(q.End)
	loc, err := loadLocation(q.TZ)
	if !ok1 || !ok2 || err != nil || start == end {
		return false
	}
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

// minuteOfDay reads "HH:MM" (24-hour) as minutes after midnight.
func minuteOfDay(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func intersects(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h {
				return true
			}
		}
	}
	return false
}

// languageMatches compares primary languages: a reader who asked for "en"
// gets "en-GB" alerts, and one who asked for "pt-BR" gets "pt" alerts.
func languageMatches(want []string, lang string) bool {
	base := flashwire.PrimaryLanguage(lang)
	for _, w := range want {
		if flashwire.PrimaryLanguage(w) == base {
			return true
		}
	}
	return false
}
