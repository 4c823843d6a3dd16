package flashwire

import (
	"strings"
	"testing"
)

func validAlert() Alert {
	return Alert{
		Headline: "Putin, Trump Agree To Joint Efforts Against IS In Syria",
		URL:      "https://news.example.com/a/28848563.html",
		Topics:   []string{"world"},
		Regions:  []string{"international"},
		Language: "en",
		Priority: Flash,
	}
}

func TestAlertValidate(t *testing.T) {
	topics := map[string]bool{"world": true, "politics": true}
	regions := map[string]bool{"international": true, "us": true}
	tests := []struct {
		name   string
		edit   func(a *Alert)
		fields []string // fields named in the error, in order; none means valid
	}{
		// The fixture story as an editor would send it.
		{"OK", func(a *Alert) {}, nil},
		// Normalize fills language and priority.
		{"OK defaults", func(a *Alert) { a.Language, a.Priority = "", "" }, nil},
		// Slugs are trimmed, lower-cased and deduplicated before the check.
		{"OK slugs normalized", func(a *Alert) { a.Topics = []string{" World", "world", "POLITICS"} }, nil},
		// A regional tag is a language.
		{"OK pt-BR", func(a *Alert) { a.Language = "pt-BR" }, nil},
		// Exactly 140 characters, counted as characters not bytes.
		{"OK headline at limit", func(a *Alert) { a.Headline = strings.Repeat("é", MaxHeadline) }, nil},
		{"headline missing", func(a *Alert) { a.Headline = "  " }, []string{"headline"}},
		{"headline too long", func(a *Alert) { a.Headline = strings.Repeat("x", MaxHeadline+1) }, []string{"headline"}},
		{"summary too long", func(a *Alert) { a.Summary = strings.Repeat("x", MaxSummary+1) }, []string{"summary"}},
		{"url missing", func(a *Alert) { a.URL = "" }, []string{"url"}},
		// Script URLs would run in readers' pages.
		{"url javascript", func(a *Alert) { a.URL = "javascript:alert(1)" }, []string{"url"}},
		{"url relative", func(a *Alert) { a.URL = "/a/1" }, []string{"url"}},
		{"image url ftp", func(a *Alert) { a.ImageURL = "ftp://x/y.jpg" }, []string{"image_url"}},
		{"no topics", func(a *Alert) { a.Topics = nil }, []string{"topics"}},
		{"too many topics", func(a *Alert) {
			a.Topics = nil
			for i := range MaxTopics + 1 {
				a.Topics = append(a.Topics, "t"+strings.Repeat("x", i))
			}
		}, append([]string{"topics"}, repeat("topics", MaxTopics+1)...)},
		{"unknown topic", func(a *Alert) { a.Topics = []string{"gossip"} }, []string{"topics"}},
		{"bad topic slug", func(a *Alert) { a.Topics = []string{"no spaces"} }, []string{"topics"}},
		{"unknown region", func(a *Alert) { a.Regions = []string{"mars"} }, []string{"regions"}},
		{"bad language", func(a *Alert) { a.Language = "english!" }, []string{"language"}},
		{"bad priority", func(a *Alert) { a.Priority = "critical" }, []string{"priority"}},
		// Every fault is named at once, in field order.
		{"several", func(a *Alert) { a.Headline, a.URL, a.Priority = "", "x", "p" }, []string{"headline", "url", "priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := validAlert()
			tt.edit(&a)
			a.Normalize()
			var bad InvalidError
			a.Validate(&bad, topics, regions)
			var got []string
			for _, f := range bad.Fields {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("fields at fault = %v, want %v (%v)", got, tt.fields, bad.Err())
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestPriorityRank(t *testing.T) {
	if !(Flash.Rank() > Urgent.Rank() && Urgent.Rank() > Normal.Rank() && Normal.Rank() > Priority("x").Rank()) {
		t.Fatal("ranks must order flash > urgent > normal > unknown")
	}
}
