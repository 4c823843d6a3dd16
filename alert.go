package flashwire

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Priority says how urgent an alert is: flash beats urgent beats normal.
type Priority string

// The priorities, most urgent first.
const (
	Flash  Priority = "flash"
	Urgent Priority = "urgent"
	Normal Priority = "normal"
)

// Rank orders priorities: 3 for flash, 2 for urgent, 1 for normal, 0 for
// anything else, so a rank of 0 means the priority is not one of them.
func (p Priority) Rank() int {
	switch p {
	case Flash:
		return 3
	case Urgent:
		return 2
	case Normal:
		return 1
	}
	return 0
}

// Limits on an alert's fields.
const (
	MaxHeadline = 140
	MaxSummary  = 400
	MaxTopics   = 20
	MaxRegions  = 20
)

// Alert is one breaking-news push: what readers see in the banner and what
// partners receive.
type Alert struct {
	ID          string    `json:"id"`
	Headline    string    `json:"headline"`
	Summary     string    `json:"summary,omitempty"`
	URL         string    `json:"url"`
	ImageURL    string    `json:"image_url,omitempty"`
	Topics      []string  `json:"topics"`
	Regions     []string  `json:"regions"`
	Language    string    `json:"language"`
	Priority    Priority  `json:"priority"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	Retracted   bool      `json:"retracted,omitempty"`
}

// Attrs are the fields of an alert that matching looks at: which readers
// and partners an alert reaches depends on these alone.
type Attrs struct {
	Topics   []string
	Regions  []string
	Language string
	Priority Priority
}

// Attrs is the one conversion of an alert to what matching looks at.
func (a Alert) Attrs() Attrs {
	return Attrs{Topics: a.Topics, Regions: a.Regions, Language: a.Language, Priority: a.Priority}
}

// Normalize trims text fields, lower-cases slugs and fills defaults
// (language "en", priority "normal").
func (a *Alert) Normalize() {
	a.Headline = strings.TrimSpace(a.Headline)
	a.Summary = strings.TrimSpace(a.Summary)
	a.URL = strings.TrimSpace(a.URL)
	a.ImageURL = strings.TrimSpace(a.ImageURL)
	a.Topics = NormalizeSlugs(a.Topics)
	a.Regions = NormalizeSlugs(a.Regions)
	a.Language = strings.TrimSpace(a.Language)
	if a.Language == "" {
		a.Language = "en"
	}
	if a.Priority == "" {
		a.Priority = Normal
	}
}

// Validate records every problem with a's fields in bad. topics and regions,
// when not nil, are the known slugs.
func (a *Alert) Validate(bad *InvalidError, topics, regions map[string]bool) {
	bad.RequiredText("headline", a.Headline, MaxHeadline)
	if n := utf8.RuneCountInString(a.Summary); n > MaxSummary {
		bad.Add("summary", "is %d characters; at most %d allowed", n, MaxSummary)
	}
	if a.URL == "" {
		bad.Add("url", "is required")
	} else if problem := CheckWebURL(a.URL); problem != "" {
		bad.Add("url", "%s", problem)
	}
	if a.ImageURL != "" {
		if problem := CheckWebURL(a.ImageURL); problem != "" {
			bad.Add("image_url", "%s", problem)
		}
	}
	switch n := len(a.Topics); {
	case n == 0:
		bad.Add("topics", "needs at least one topic")
	case n > MaxTopics:
		bad.Add("topics", "has %d topics; at most %d allowed", n, MaxTopics)
	}
	CheckSlugs(bad, "topics", "topic", a.Topics, topics)
	if len(a.Regions) > MaxRegions {
		bad.Add("regions", "has %d regions; at most %d allowed", len(a.Regions), MaxRegions)
	}
	CheckSlugs(bad, "regions", "region", a.Regions, regions)
	if !ValidLanguageTag(a.Language) {
		bad.Add("language", "%q is not a BCP 47 language tag such as en or pt-BR", a.Language)
	}
	if a.Priority.Rank() == 0 {
		bad.Add("priority", "%q is not one of flash, urgent, normal", a.Priority)
	}
}
