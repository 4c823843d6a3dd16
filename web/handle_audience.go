package web

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"flashwire"
	"flashwire/subscribers"
)

// audienceParams are the query parameters GET /api/v1/audience knows.
var audienceParams = map[string]bool{"topics": true, "regions": true, "priority": true, "language": true}

// handleAudience counts the audience of an alert described by the query:
// topics and regions (comma-separated), priority (default normal) and
// language (default en), as an alert would default them.
func handleAudience(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a := flashwire.Attrs{
			Topics:   splitComma(q.Get("topics")),
			Regions:  splitComma(q.Get("regions")),
			Language: strings.TrimSpace(q.Get("language")),
			Priority: flashwire.Priority(strings.ToLower(strings.TrimSpace(q.Get("priority")))),
		}
		if a.Language == "" {
			a.Language = "en"
		}
		if a.Priority == "" {
			a.Priority = "normal"
		}
		topics, regions, err := store.KnownSlugs(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		var bad flashwire.InvalidError
		for _, name := range slices.Sorted(maps.Keys(q)) {
			if !audienceParams[name] {
				bad.Add(name, "is not a known parameter; use topics, regions, priority, language")
			}
		}
		// The same checks as an alert's, so the count is for an alert
		// that could be published.
		check := subscribers.Preferences{Topics: a.Topics, Regions: a.Regions, Languages: []string{a.Language}, MinPriority: a.Priority}
		check.Validate(&bad, topics, regions)
		for i := range bad.Fields {
			switch bad.Fields[i].Field {
			case "languages":
				bad.Fields[i].Field = "language"
			case "min_priority":
				bad.Fields[i].Field = "priority"
			}
		}
		if err := bad.Err(); err != nil {
			writeError(w, r, err)
			return
		}
		aud, err := store.CountAudience(r.Context(), a, store.Now())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, aud)
	})
}
