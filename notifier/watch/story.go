package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Story is one item of a feed, whatever its format.
type Story struct {
	// ID is the item's identity: its guid, ninjs uri or, lacking both, its
	// link.
	ID       string
	Headline string
	Summary  string
	// URL is the item's own public web link (ninjs links or renditions,
	// RSS link, Atom alternate link, JSON Feed url); empty when it has
	// none. A ninjs uri is an identifier and never taken for one.
	URL string
	// InternalLink is the item's first web link that looks like an API
	// or internal address (see internalLink), kept out of alerts.
	InternalLink string
	// Slug is the ninjs slugline, when given.
	Slug     string
	ImageURL string
	// Terms are the item's categories, subjects, genres and keywords, as
	// written in the feed (names and codes).
	Terms    []string
	Language string
	// Urgency is the ninjs urgency, 1 (highest) to 9; 0 when the feed has
	// none.
	Urgency int
	// Status is the ninjs pubstatus: usable, withheld or canceled; feeds
	// without one are usable.
	Status string
	// Embargo, when not zero, is the time before which the story must not
	// be published.
	Embargo time.Time
	// Published is when the story first appeared; zero when the feed does
	// not say.
	Published time.Time
	// Version is when this version of the story was made (ninjs
	// versioncreated, Atom updated); zero when the feed does not say.
	Version time.Time
}

// The ninjs publication statuses.
const (
	StatusUsable   = "usable"
	StatusWithheld = "withheld"
	StatusCanceled = "canceled"
)

// The source formats.
const (
	FormatAuto     = "auto"
	FormatRSS      = "rss"
	FormatAtom     = "atom"
	FormatJSONFeed = "jsonfeed"
	FormatNinjs    = "ninjs"
)

// ErrUnknownFormat means a document is none of the formats Flashwire reads.
var ErrUnknownFormat = errors.New("the document is not RSS, Atom, JSON Feed or ninjs")

// Parse reads the stories of a document in the given format; "auto" (or "")
// tells the format by the document's first bytes.
func Parse(data []byte, format string) ([]Story, error) {
	if format == "" || format == FormatAuto {
		format = Detect(data)
		if format == "" {
			return nil, ErrUnknownFormat
		}
	}
	if format == FormatNinjs {
		return ParseNinjs(data)
	}
	return ParseFeed(data, format)
}

// Detect names the format of a document from its first bytes, or returns ""
// when it is none Flashwire reads.
func Detect(data []byte) string {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	trimmed = bytes.TrimLeft(trimmed, " \t\r\n")
	if len(trimmed) == 0 {
		return ""
	}
	switch trimmed[0] {
	case '<':
		return detectXML(trimmed)
	case '[':
		return FormatNinjs
	case '{':
		// A JSON Feed says so in its version; anything else in an object is
		// taken for ninjs.
		var probe struct {
			Version json.RawMessage `json:"version"`
		}
		if json.Unmarshal(trimmed, &probe) == nil {
			var v string
			if json.Unmarshal(probe.Version, &v) == nil && strings.Contains(v, "jsonfeed.org") {
				return FormatJSONFeed
			}
		}
		return FormatNinjs
	}
	return ""
}

// xmlRoot finds the name of the first element that is not a declaration,
// comment or processing instruction.
var xmlRoot = regexp.MustCompile(`<([A-Za-z_][\w.:-]*)`)

func detectXML(data []byte) string {
	m := xmlRoot.FindSubmatch(data)
	if m == nil {
		return ""
	}
	name := strings.ToLower(string(m[1]))
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	switch name {
	case "rss", "rdf":
		return FormatRSS
	case "feed":
		return FormatAtom
	}
	return ""
}

// Rule says which stories of a source are breaking: any one of its parts
// suffices.
type Rule struct {
	// Labels are categories or terms that flag a story, compared without
	// regard to case. Default: "Breaking News", "breaking".
	Labels []string `json:"labels"`
	// TitlePrefixes flag a story whose headline starts with one, compared
	// without regard to case; the prefix is cut from the alert's headline.
	// Default: "BREAKING:".
	TitlePrefixes []string `json:"title_prefixes"`
	// MaxUrgency flags a ninjs story whose urgency is at or below it (1 is
	// the highest urgency); 0 turns this part off. Default: 2.
	MaxUrgency *int `json:"max_urgency"`
}

// Defaults of the breaking rule.
var (
	DefaultLabels        = []string{"Breaking News", "breaking"}
	DefaultTitlePrefixes = []string{"BREAKING:"}
	DefaultMaxUrgency    = 2
)

// withDefaults fills the parts of r left out (nil) with the defaults. An
// empty list given on purpose stays empty: that part is off.
func (r Rule) withDefaults() Rule {
	if r.Labels == nil {
		r.Labels = append([]string(nil), DefaultLabels...)
	}
	if r.TitlePrefixes == nil {
		r.TitlePrefixes = append([]string(nil), DefaultTitlePrefixes...)
	}
	if r.MaxUrgency == nil {
		n := DefaultMaxUrgency
		r.MaxUrgency = &n
	}
	return r
}

// Breaking reports whether s is breaking under r.
func (r Rule) Breaking(s Story) bool {
	r = r.withDefaults()
	for _, t := range s.Terms {
		t = strings.TrimSpace(t)
		for _, l := range r.Labels {
			if l != "" && strings.EqualFold(t, strings.TrimSpace(l)) {
				return true
			}
		}
	}
	if _, ok := r.cutPrefix(s.Headline); ok {
		return true
	}
	return s.Urgency >= 1 && s.Urgency <= *r.MaxUrgency
}

// cutPrefix returns headline without the first title prefix it starts with.
func (r Rule) cutPrefix(headline string) (string, bool) {
	h := strings.TrimSpace(headline)
	for _, p := range r.TitlePrefixes {
		p = strings.TrimSpace(p)
		if p != "" && len(h) >= len(p) && strings.EqualFold(h[:len(p)], p) {
			return strings.TrimSpace(h[len(p):]), true
		}
	}
	return h, false
}

var (
	tagPattern   = regexp.MustCompile(`(?s)<[^>]*>`)
	spacePattern = regexp.MustCompile(`[\s\x{00a0}]+`)
	// blockTag matches the opening or closing tag of an element that
	// starts a new block of text.
	blockTag = regexp.MustCompile(`(?is)<\s*/?\s*(?:p|div|br|hr|li|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|table|tr|td|th|section|article|header|footer|aside|figure|figcaption|address)\b[^>]*>`)
)

// plainText turns a bit of HTML into one line of text. Block elements
// become sentences of their own: joined by ". " when the text before has
// no closing punctuation, by a space otherwise, so "<p>Tor 14 is out</p>
// <p>The Tor Browser...</p>" reads "Tor 14 is out. The Tor Browser...".
func plainText(s string) string {
	var b strings.Builder
	prev := ""
	for _, part := range blockTag.Split(s, -1) {
		part = inlineText(part)
		if part == "" {
			continue
		}
		if prev != "" {
			if endsSentence(prev) {
				b.WriteString(" ")
			} else {
				b.WriteString(". ")
			}
		}
		b.WriteString(part)
		prev = part
	}
	return b.String()
}

// inlineText is HTML without its tags and entities, its spaces collapsed.
func inlineText(s string) string {
	s = tagPattern.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	s = strings.ToValidUTF8(s, "")
	return strings.TrimSpace(spacePattern.ReplaceAllString(s, " "))
}

// endsSentence reports whether text ends with closing punctuation,
// perhaps followed by a closing quote or bracket.
func endsSentence(text string) bool {
	text = strings.TrimRight(text, "\"'”’»)]")
	r, _ := utf8.DecodeLastRuneInString(text)
	return strings.ContainsRune(".!?…:;", r)
}

// clip shortens s to at most n runes, ending with an ellipsis when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// timeLayouts are the date forms agencies write, most common first.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	time.RFC1123Z,
	time.RFC1123,
	"2006-01-02",
}

// parseTime reads a date in any of timeLayouts; times without a zone are
// UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}
