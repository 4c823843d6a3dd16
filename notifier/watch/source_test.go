package watch

import (
	"context"
	"errors"
	"testing"

	"flashwire"
)

func TestCreateSourceInvalid(t *testing.T) {
	e := newWatchEnv(t)
	w := e.watcher(t, "a", nil)
	ten := 10
	tests := []struct {
		name   string
		source Source
		field  string
	}{
		// No URL.
		{"NoURL", Source{Topics: []string{"world"}}, "url"},
		// Not http.
		{"FTP", Source{URL: "ftp://x.example/feed", Topics: []string{"world"}}, "url"},
		// Unknown format.
		{"Format", Source{URL: "https://x.example/f", Format: "csv", Topics: []string{"world"}}, "format"},
		// A schedule cron cannot read.
		{"Schedule", Source{URL: "https://x.example/f", Schedule: "every minute", Topics: []string{"world"}}, "schedule"},
		// Unknown mode.
		{"Mode", Source{URL: "https://x.example/f", Mode: "later", Topics: []string{"world"}}, "mode"},
		// No topic.
		{"NoTopics", Source{URL: "https://x.example/f"}, "topics"},
		// A topic outside the taxonomy.
		{"UnknownTopic", Source{URL: "https://x.example/f", Topics: []string{"gossip"}}, "topics"},
		// A region outside the taxonomy.
		{"UnknownRegion", Source{URL: "https://x.example/f", Topics: []string{"world"}, Regions: []string{"mars"}}, "regions"},
		// A category mapped to an unknown topic.
		{"CategoryTopics", Source{URL: "https://x.example/f", Topics: []string{"world"}, CategoryTopics: map[string]string{"Sport": "football"}}, "category_topics"},
		// Urgency beyond 9.
		{"MaxUrgency", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{MaxUrgency: &ten}}, "breaking.max_urgency"},
		// Not a duration.
		{"MaxAge", Source{URL: "https://x.example/f", Topics: []string{"world"}, MaxAge: "two hours"}, "max_age"},
		// Not a language tag.
		{"Language", Source{URL: "https://x.example/f", Topics: []string{"world"}, Language: "English!"}, "language"},
		// Rule text with hidden characters would never match what it shows.
		{"LabelControl", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{Labels: []string{"Breaking\x00"}}}, "breaking.labels"},
		{"PrefixOverride", Source{URL: "https://x.example/f", Topics: []string{"world"}, Breaking: Rule{TitlePrefixes: []string{"\u202EBREAKING:"}}}, "breaking.title_prefixes"},
		{"CategoryControl", Source{URL: "https://x.example/f", Topics: []string{"world"}, CategoryTopics: map[string]string{"Sp\tort": "world"}}, "category_topics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.CreateSource(context.Background(), tt.source)
			var bad *flashwire.InvalidError
			if !errors.As(err, &bad) {
				t.Fatalf("err = %v, want *flashwire.InvalidError", err)
			}
			for _, f := range bad.Fields {
				if f.Field == tt.field {
					return
				}
			}
			t.Errorf("fields = %+v, want %s", bad.Fields, tt.field)
		})
	}
	t.Run("OK", func(t *testing.T) {
		s, err := w.CreateSource(context.Background(), Source{URL: "https://x.example/f", Topics: []string{"World"}, Schedule: "*/15 * * * * *"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Format != FormatAuto || s.Mode != ModeAuto || s.MaxAge != "2h0m0s" || *s.Breaking.MaxUrgency != 2 ||
			len(s.Breaking.Labels) != 2 || s.Breaking.TitlePrefixes[0] != "BREAKING:" || s.Topics[0] != "world" {
			t.Errorf("defaults = %+v", s)
		}
	})
}
