package watch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseDetectsBreaking(t *testing.T) {
	tests := []struct {
		file, format string
		wantItems    int
		// wantBreaking are the identities of usable stories the default
		// rule flags, in feed order.
		wantBreaking []string
	}{
		// RSS: a "Breaking News" category and a "BREAKING:" title; a
		// "Politics" item whose text says "Breaking", and a category that
		// only starts with "Breaking News", are not breaking.
		{"rss.xml", FormatRSS, 4, []string{
			"https://news.example.com/a/putin-trump-syria-28847521.html",
			"newsroom-28847530",
		}},
		// The same RSS with the format told from the document.
		{"rss.xml", FormatAuto, 4, []string{
			"https://news.example.com/a/putin-trump-syria-28847521.html",
			"newsroom-28847530",
		}},
		// Atom: the term "breaking" counts though its label differs; the
		// title prefix matches in any case; a label merely starting with
		// "Breaking" does not.
		{"atom.xml", FormatAtom, 3, []string{
			"tag:news.example.com,2017:28847601",
			"tag:news.example.com,2017:28847602",
		}},
		// JSON Feed: tags are categories, compared without case.
		{"feed.json", FormatJSONFeed, 2, []string{
			"https://news.example.com/a/putin-trump-syria-28847521.html",
		}},
		// ninjs 1.x, one item: urgency 1 (and the genre).
		{"ninjs-1x-ap.json", FormatNinjs, 1, []string{
			"http://wire.example.org/ap/2017/11/11/danang-syria-statement",
		}},
		// ninjs 2.x, an array: urgency 2 is breaking, 5 is not, and a
		// withheld urgency-1 item is not usable.
		{"ninjs-2x-ntb.json", FormatNinjs, 3, []string{
			"3f6c2a1e-8b1d-4c55-9a0e-6d2f1b7c9e10",
		}},
		// ninjs 3.0 camelCase in an object with items: urgency 2 and an
		// embargoed urgency 1 are breaking; urgency 4 is not.
		{"ninjs-3-dpa.json", FormatAuto, 3, []string{
			"urn:newsml:dpa.example:20171111:171111-99-812345",
			"urn:newsml:dpa.example:20171111:171111-99-812347",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.format, func(t *testing.T) {
			stories, err := Parse(readFixture(t, tt.file), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(stories) != tt.wantItems {
				t.Fatalf("got %d stories, want %d", len(stories), tt.wantItems)
			}
			var got []string
			for _, s := range stories {
				// AP's ninjs 1.x items carry an http uri and no links: the
				// uri is an identifier, never the reader's link.
				if s.Headline == "" || (s.URL == "") != (tt.file == "ninjs-1x-ap.json") {
					t.Errorf("story %s: headline or url wrong: %+v", s.ID, s)
				}
				if (Rule{}).Breaking(s) && s.Status == StatusUsable {
					got = append(got, s.ID)
				}
			}
			if !reflect.DeepEqual(got, tt.wantBreaking) {
				t.Errorf("breaking = %q, want %q", got, tt.wantBreaking)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Run("RSS", func(t *testing.T) {
		stories, err := Parse(readFixture(t, "rss.xml"), FormatRSS)
		if err != nil {
			t.Fatal(err)
		}
		s := stories[0]
		if s.Headline != "Putin, Trump Agree To Joint Efforts Against IS In Syria" ||
			!strings.HasPrefix(s.Summary, "Russian President Vladimir Putin") ||
			s.ImageURL != "https://news.example.com/img/apec-family-photo.jpg" ||
			!s.Published.Equal(time.Date(2017, 11, 11, 8, 40, 0, 0, time.UTC)) ||
			s.Language != "en-us" {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("Ninjs1", func(t *testing.T) {
		stories, err := ParseNinjs(readFixture(t, "ninjs-1x-ap.json"))
		if err != nil {
			t.Fatal(err)
		}
		s := stories[0]
		if s.Urgency != 1 || s.Status != StatusUsable || s.URL != "" ||
			s.ImageURL != "https://wire.example.org/ap/photo/apec-family/main.jpg" ||
			!s.Published.Equal(time.Date(2017, 11, 11, 8, 41, 12, 0, time.UTC)) ||
			!s.Version.Equal(time.Date(2017, 11, 11, 8, 52, 40, 0, time.UTC)) {
			t.Errorf("got %+v", s)
		}
	})
	t.Run("Ninjs3", func(t *testing.T) {
		stories, err := ParseNinjs(readFixture(t, "ninjs-3-dpa.json"))
		if err != nil {
			t.Fatal(err)
		}
		s := stories[2]
		if !s.Embargo.Equal(time.Date(2017, 11, 11, 11, 0, 0, 0, time.UTC)) || s.URL != "https://www.example.de/politik/kreml-wortlaut" {
			t.Errorf("got %+v", s)
		}
		if !strings.HasPrefix(stories[0].Summary, "Russlands Präsident") {
			t.Errorf("summary from bodies = %q", stories[0].Summary)
		}
	})
	t.Run("NinjsWithheld", func(t *testing.T) {
		stories, err := ParseNinjs(readFixture(t, "ninjs-2x-ntb.json"))
		if err != nil {
			t.Fatal(err)
		}
		if stories[2].Status != StatusWithheld {
			t.Errorf("status = %q", stories[2].Status)
		}
	})
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body, format, want string
	}{
		// HTML is none of the formats.
		{"HTML", "<!doctype html><html><body>Breaking News</body></html>", FormatAuto, "not RSS, Atom, JSON Feed or ninjs"},
		// Truncated XML.
		{"BrokenRSS", `<rss version="2.0"><channel><item><title>Half`, FormatRSS, "RSS feed"},
		// A source set to Atom that serves RSS says so.
		{"WrongFormat", string(readFixture(t, "rss.xml")), FormatAtom, "set to Atom but the document is RSS"},
		// Broken JSON names the byte.
		{"BrokenNinjs", `{"uri": "x", "headline": `, FormatNinjs, "not valid JSON"},
		// A JSON string is no ninjs.
		{"NinjsString", `"hello"`, FormatNinjs, "neither an item"},
		// Empty body.
		{"Empty", "", FormatAuto, "not RSS, Atom, JSON Feed or ninjs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body), tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestRuleBreaking(t *testing.T) {
	zero, three := 0, 3
	tests := []struct {
		name  string
		rule  Rule
		story Story
		want  bool
	}{
		// Default label, other case.
		{"LabelCase", Rule{}, Story{Terms: []string{"BREAKING"}}, true},
		// A label must equal the term, not be part of it.
		{"LabelPart", Rule{}, Story{Terms: []string{"Breaking News Analysis"}}, false},
		// Default prefix, with leading blanks.
		{"Prefix", Rule{}, Story{Headline: "  breaking: Quake hits"}, true},
		// The prefix must start the headline.
		{"PrefixInside", Rule{}, Story{Headline: "Not BREAKING: news"}, false},
		// Urgency at the threshold.
		{"UrgencyAt", Rule{}, Story{Urgency: 2}, true},
		// Urgency above it.
		{"UrgencyAbove", Rule{}, Story{Urgency: 3}, false},
		// No urgency is never urgent.
		{"UrgencyNone", Rule{}, Story{}, false},
		// A raised threshold.
		{"UrgencyRaised", Rule{MaxUrgency: &three}, Story{Urgency: 3}, true},
		// Threshold 0 turns urgency off.
		{"UrgencyOff", Rule{MaxUrgency: &zero}, Story{Urgency: 1}, false},
		// Own labels replace the defaults.
		{"OwnLabel", Rule{Labels: []string{"Eilmeldung"}}, Story{Terms: []string{"eilmeldung"}}, true},
		{"OwnLabelNoDefault", Rule{Labels: []string{"Eilmeldung"}}, Story{Terms: []string{"breaking"}}, false},
		// An empty prefix list turns prefixes off.
		{"PrefixesOff", Rule{TitlePrefixes: []string{}}, Story{Headline: "BREAKING: x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.Breaking(tt.story); got != tt.want {
				t.Errorf("Breaking = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"rss.xml", "atom.xml", "feed.json", "ninjs-3-dpa.json"} {
		data := readFixture(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(data, FormatAuto); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
