package watch

import (
	"testing"
	"unicode/utf8"
)

// The fuzzers feed untrusted bytes to the parsers: they must never panic,
// and whatever they return must be usable. Seeds are the fixtures plus the
// corpora committed under testdata/fuzz.

func FuzzParseNinjs(f *testing.F) {
	for _, name := range []string{"ninjs-1x-ap.json", "ninjs-2x-ntb.json", "ninjs-3-dpa.json"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		stories, err := ParseNinjs(data)
		if err != nil {
			return
		}
		checkStories(t, stories)
	})
}

func FuzzParseFeed(f *testing.F) {
	for _, name := range []string{"rss.xml", "atom.xml", "feed.json"} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		stories, err := Parse(data, FormatAuto)
		if err != nil {
			return
		}
		checkStories(t, stories)
	})
}

func checkStories(t *testing.T, stories []Story) {
	t.Helper()
	for _, s := range stories {
		if s.ID == "" {
			t.Fatalf("story without identity: %+v", s)
		}
		if s.Urgency < 0 || s.Urgency > 9 {
			t.Fatalf("urgency %d out of range", s.Urgency)
		}
		if !utf8.ValidString(s.Headline) || !utf8.ValidString(s.Summary) {
			t.Fatalf("invalid UTF-8 in %+v", s)
		}
		_ = (Rule{}).Breaking(s)
		_ = clip(s.Headline, 140)
	}
}
