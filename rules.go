package flashwire

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSlug is the longest topic or region slug.
const MaxSlug = 64

// ValidSlug reports whether s can name a topic or region: lower-case
// letters and digits in words joined by single hyphens, at most MaxSlug
// bytes.
func ValidSlug(s string) bool {
	if s == "" || len(s) > MaxSlug || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// NormalizeSlugs trims and lower-cases each entry of in and drops empty
// entries and repeats, keeping the first of each in order. It never
// returns nil.
func NormalizeSlugs(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// CheckSlugs records in bad, under field, every entry of slugs that is not
// a slug or, when known is not nil, not one of the known ones; kind names
// what they are ("topic", "region").
func CheckSlugs(bad *InvalidError, field, kind string, slugs []string, known map[string]bool) {
	for _, s := range slugs {
		switch {
		case !ValidSlug(s):
			bad.Add(field, "%q is not a slug (lower-case letters, digits and single hyphens)", s)
		case known != nil && !known[s]:
			bad.Add(field, "%q is not a known %s", s, kind)
		}
	}
}

// MaxLanguageTag is the longest language tag accepted: room for a language,
// script, region and a variant or two.
const MaxLanguageTag = 35

// ValidLanguageTag reports whether tag is a well-formed BCP 47 language tag
// of the shape newsrooms use: a primary language of two or three letters,
// then any subtags of one to eight letters and digits ("en", "pt-BR",
// "zh-Hant-TW", "de-CH-1996", "en-x-wire"). A one-character subtag opens an
// extension or private use and must be followed by another subtag, as in
// BCP 47 (RFC 5646, section 2.1); the case of letters does not matter.
func ValidLanguageTag(tag string) bool {
	if tag == "" || len(tag) > MaxLanguageTag {
		return false
	}
	parts := strings.Split(tag, "-")
	if n := len(parts[0]); n < 2 || n > 3 || !allLetters(parts[0]) {
		return false
	}
	for i, p := range parts[1:] {
		if len(p) == 0 || len(p) > 8 || !allAlnum(p) {
			return false
		}
		if len(p) == 1 && i == len(parts)-2 {
			return false // a singleton with nothing after it
		}
	}
	return true
}

// PrimaryLanguage returns a language tag's primary subtag in lower case:
// "pt" for "pt-BR". Matching compares languages by it, so a reader who asked
// for "en" gets "en-GB" alerts.
func PrimaryLanguage(tag string) string {
	base, _, _ := strings.Cut(tag, "-")
	return strings.ToLower(base)
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !allLetters(s[i:i+1]) {
			return false
		}
	}
	return true
}

// MaxURL is the longest web link accepted.
const MaxURL = 2048

// CheckWebURL returns what is wrong with raw as a web link (an alert's link
// or image, a feed's address, a partner's endpoint), or "" when it is an
// absolute http or https URL with a host and no user name or password, of
// at most MaxURL bytes. Where a link may point (https only, no internal
// addresses) is a policy of the code that fetches it, not of this rule.
func CheckWebURL(raw string) string {
	if len(raw) > MaxURL {
		return "is longer than 2048 bytes"
	}
	if problem := CheckText(raw); problem != "" {
		return problem
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an http or https URL"
	case u.Hostname() == "":
		return "has no host"
	case u.User != nil:
		// Flashwire would send them to whoever the link leads to, and show
		// them to everyone who reads it.
		return "must not carry a user name or password"
	}
	return ""
}

// IsWebURL reports whether raw passes CheckWebURL.
func IsWebURL(raw string) bool { return CheckWebURL(raw) == "" }

// trackingParams are the query parameters NormalizeLink drops, besides
// every parameter starting "utm_": they say where a reader came from
// (campaigns, ad clicks, newsletters, share buttons), never which story a
// link is. Names compare without case.
var trackingParams = []string{
	"fbclid",  // Facebook
	"gclid",   // Google Ads
	"gbraid",  // Google Ads, iOS
	"wbraid",  // Google Ads, iOS web to app
	"dclid",   // Google Display & Video
	"msclkid", // Microsoft Advertising
	"yclid",   // Yandex
	"twclid",  // X (Twitter)
	"igshid",  // Instagram shares
	"mc_cid",  // Mailchimp campaign
	"mc_eid",  // Mailchimp recipient
	"ocid",    // Microsoft Start and MSN syndication
	"_ga",     // Google Analytics cross-domain
	"_gl",     // Google Analytics cross-domain
	"mkt_tok", // Marketo e-mail
}

// NormalizeLink returns the form of a web link by which two links are
// compared as one story, not a link to show anyone: scheme and host in
// lower case, the scheme's default port dropped, userinfo and fragment
// dropped, tracking parameters (every utm_* and those of trackingParams)
// dropped, the remaining query parameters sorted, and a trailing slash of
// the path ignored. The path keeps its case, as servers may tell paths
// apart by it. A string that is not an http or https URL with a host is
// returned trimmed, as it is.
func NormalizeLink(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return raw
	}
	// u.Host keeps an IPv6 literal's brackets; its zone comes unescaped.
	host := strings.ReplaceAll(strings.ToLower(u.Host), "%", "%25")
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	host = strings.TrimSuffix(host, ":") // an empty port
	var b strings.Builder
	b.WriteString(u.Scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/"))
	var params []string
	for _, p := range strings.Split(u.RawQuery, "&") {
		if p != "" && !isTrackingParam(p) {
			params = append(params, p)
		}
	}
	if len(params) > 0 {
		slices.Sort(params)
		b.WriteString("?" + strings.Join(params, "&"))
	}
	return b.String()
}

// isTrackingParam reports whether the query parameter p ("name=value" as
// sent) is one NormalizeLink drops.
func isTrackingParam(p string) bool {
	name, _, _ := strings.Cut(p, "=")
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	return strings.HasPrefix(name, "utm_") || slices.Contains(trackingParams, name)
}

// CheckText returns what is wrong with s as a line of text that people
// read (a headline, a name), or "" when nothing is: it must be valid UTF-8
// and hold no control character (tab and newline included) and no
// bidirectional override or isolate (U+202A to U+202E, U+2066 to U+2069),
// which would let a headline display as something other than what it
// says.
func CheckText(s string) string { return checkText(s, false) }

// CheckLines is CheckText for text that may run over several lines (a
// summary): newlines and tabs are allowed, every other control character
// is not.
func CheckLines(s string) string { return checkText(s, true) }

func checkText(s string, lines bool) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return "is not valid UTF-8"
		case lines && (r == '\n' || r == '\t'):
		case unicode.IsControl(r):
			if lines {
				return fmt.Sprintf("holds the control character U+%04X; only newlines and tabs are allowed", r)
			}
			return fmt.Sprintf("holds the control character U+%04X; none is allowed", r)
		case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
			return fmt.Sprintf("holds the bidirectional formatting character U+%04X, which can make text display as something else", r)
		}
	}
	return ""
}
