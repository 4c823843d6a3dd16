package notifier

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"flashwire/internal/invalid"
	"flashwire/subscribers"
)

// Errors of the alert operations.
var (
	// ErrNotFound means no alert has the requested id.
	ErrNotFound = errors.New("alert not found")
	// ErrRetracted means the alert was retracted and can no longer change.
	ErrRetracted = errors.New("alert already retracted")
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
// anything else.
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
	maxURL      = 2048
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

// Attrs is the one conversion of an alert to what matching readers and
// partners look at.
func (a Alert) Attrs() subscribers.Attrs {
	return subscribers.Attrs{Topics: a.Topics, Regions: a.Regions, Language: a.Language, Priority: string(a.Priority)}
}

// Taxonomy tells which topic and region slugs exist. subscribers.Store is one.
type Taxonomy interface {
	KnownSlugs(ctx context.Context) (topics, regions map[string]bool, err error)
}

var (
	slugPattern     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	languagePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
)

// Normalize trims text fields, lower-cases slugs and fills defaults
// (language "en", priority "normal").
func (a *Alert) Normalize() {
	a.Headline = strings.TrimSpace(a.Headline)
	a.Summary = strings.TrimSpace(a.Summary)
	a.URL = strings.TrimSpace(a.URL)
	a.ImageURL = strings.TrimSpace(a.ImageURL)
	a.Topics = subscribers.NormalizeSlugs(a.Topics)
	a.Regions = subscribers.NormalizeSlugs(a.Regions)
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
func (a *Alert) Validate(bad *invalid.Error, topics, regions map[string]bool) {
	bad.RequiredText("headline", a.Headline, MaxHeadline)
	if n := utf8.RuneCountInString(a.Summary); n > MaxSummary {
		bad.Add("summary", "is %d characters; at most %d allowed", n, MaxSummary)
	}
	if a.URL == "" {
		bad.Add("url", "is required")
	} else if err := checkWebURL(a.URL); err != "" {
		bad.Add("url", "%s", err)
	}
	if a.ImageURL != "" {
		if err := checkWebURL(a.ImageURL); err != "" {
			bad.Add("image_url", "%s", err)
		}
	}
	switch n := len(a.Topics); {
	case n == 0:
		bad.Add("topics", "needs at least one topic")
	case n > MaxTopics:
		bad.Add("topics", "has %d topics; at most %d allowed", n, MaxTopics)
	}
	checkSlugs(bad, "topics", "topic", a.Topics, topics)
	if len(a.Regions) > MaxRegions {
		bad.Add("regions", "has %d regions; at most %d allowed", len(a.Regions), MaxRegions)
	}
	checkSlugs(bad, "regions", "region", a.Regions, regions)
	if !languagePattern.MatchString(a.Language) {
		bad.Add("language", "%q is not a BCP 47 language tag such as en or pt-BR", a.Language)
	}
	if a.Priority.Rank() == 0 {
		bad.Add("priority", "%q is not one of flash, urgent, normal", a.Priority)
	}
}

func checkSlugs(bad *invalid.Error, field, kind string, slugs []string, known map[string]bool) {
	for _, s := range slugs {
		switch {
		case !slugPattern.MatchString(s):
			bad.Add(field, "%q is not a slug (lower-case letters, digits and dashes)", s)
		case known != nil && !known[s]:
			bad.Add(field, "%q is not a known %s", s, kind)
		}
	}
}

func checkWebURL(raw string) string {
	if len(raw) > maxURL {
		return "is longer than 2048 bytes"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http or https URL"
	}
	return ""
}
