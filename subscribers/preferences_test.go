package subscribers

import (
	"testing"
	"time"

	"flashwire"
)

// matchCase is one case of the matching rule: whether preferences p take
// an alert with attributes a at now (RFC 3339).
type matchCase struct {
	name string
	p    Preferences
	a    flashwire.Attrs
	now  string
	want bool
}

// matchCases are checked on Preferences alone and through the Redis
// indexes, which must agree.
func matchCases() []matchCase {
	london := "Europe/London"
	world := flashwire.Attrs{Topics: []string{"world"}, Regions: []string{"europe"}, Language: "en-GB", Priority: "urgent"}
	flash := world
	flash.Priority = "flash"
	unknown := world
	unknown.Priority = ""
	later := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return []matchCase{
		// No filter at all receives everything.
		{"empty", Preferences{}, world, "2026-11-26T12:00:00Z", true},
		{"topic hit", Preferences{Topics: []string{"sport", "world"}}, world, "2026-11-26T12:00:00Z", true},
		{"topic miss", Preferences{Topics: []string{"sport"}}, world, "2026-11-26T12:00:00Z", false},
		// An alert without topics reaches only readers who named none.
		{"alert without topics", Preferences{Topics: []string{"world"}}, flashwire.Attrs{Priority: "urgent"}, "2026-11-26T12:00:00Z", false},
		{"region miss", Preferences{Regions: []string{"asia"}}, world, "2026-11-26T12:00:00Z", false},
		{"region hit", Preferences{Regions: []string{"asia", "europe"}}, world, "2026-11-26T12:00:00Z", true},
		// An alert without regions is for every region, so it reaches readers
		// who filter by region too.
		{"alert without regions", Preferences{Regions: []string{"asia"}}, flashwire.Attrs{Topics: []string{"world"}, Priority: "urgent"}, "2026-11-26T12:00:00Z", true},
		{"alert without regions, topic miss", Preferences{Topics: []string{"sport"}, Regions: []string{"asia"}}, flashwire.Attrs{Topics: []string{"world"}, Priority: "urgent"}, "2026-11-26T12:00:00Z", false},
		// Primary subtags compare: en takes en-GB.
		{"language base", Preferences{Languages: []string{"en"}}, world, "2026-11-26T12:00:00Z", true},
		{"language region", Preferences{Languages: []string{"EN-us"}}, world, "2026-11-26T12:00:00Z", true},
		{"language miss", Preferences{Languages: []string{"de"}}, world, "2026-11-26T12:00:00Z", false},
		{"priority below", Preferences{MinPriority: "flash"}, world, "2026-11-26T12:00:00Z", false},
		{"priority at", Preferences{MinPriority: "urgent"}, world, "2026-11-26T12:00:00Z", true},
		{"priority above", Preferences{MinPriority: "normal"}, flash, "2026-11-26T12:00:00Z", true},
		// An alert without a priority reaches only readers who set no minimum.
		{"unknown priority", Preferences{MinPriority: "normal"}, unknown, "2026-11-26T12:00:00Z", false},
		{"unknown priority no minimum", Preferences{}, unknown, "2026-11-26T12:00:00Z", true},
		{"paused", Preferences{PausedUntil: &later}, world, "2026-11-26T12:00:00Z", false},
		{"pause ends", Preferences{PausedUntil: &later}, world, "2026-11-27T12:00:00Z", true},
		{"pause over", Preferences{PausedUntil: &later}, world, "2026-11-27T12:00:01Z", true},
		// 23:30 in London in winter (UTC+0) is inside 22:00-07:00.
		{"quiet across midnight", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, false}}, world, "2026-11-26T23:30:00Z", false},
		{"quiet after end", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, false}}, world, "2026-11-26T07:00:00Z", true},
		{"quiet lets flash", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, true}}, flash, "2026-11-26T23:30:00Z", true},
		{"quiet stops flash", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, false}}, flash, "2026-11-26T23:30:00Z", false},
		// In summer London is UTC+1: 06:30 UTC is 07:30 local, after the end.
		{"quiet DST summer", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, false}}, world, "2026-07-01T06:30:00Z", true},
		// The same instant in winter is 06:30 local, still quiet.
		{"quiet DST winter", Preferences{QuietHours: &QuietHours{"22:00", "07:00", london, false}}, world, "2026-01-15T06:30:00Z", false},
		// The night the clocks go back, 01:30 local happens twice; both are quiet.
		{"quiet DST repeated hour", Preferences{QuietHours: &QuietHours{"01:00", "02:00", london, false}}, world, "2026-10-25T01:30:00Z", false},
		// A daytime span that does not cross midnight.
		{"quiet daytime", Preferences{QuietHours: &QuietHours{"09:00", "17:00", "America/New_York", false}}, world, "2026-11-26T15:00:00Z", false},
		// Equal start and end is no span at all.
		{"quiet empty span", Preferences{QuietHours: &QuietHours{"08:00", "08:00", london, false}}, world, "2026-11-26T08:00:00Z", true},
	}
}

// mustTime parses an RFC 3339 time.
func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestPreferencesMatches(t *testing.T) {
	for _, tt := range matchCases() {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Matches(tt.a, mustTime(t, tt.now)); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}
