package flashwire

import (
	"strings"
	"testing"
)

func TestValidSlug(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"world", true},         // a word
		{"middle-east", true},   // words joined by a hyphen
		{"g7", true},            // digits are letters here
		{"2026-election", true}, // starting with a digit is fine
		{"", false},             // empty
		{"World", false},        // upper case: NormalizeSlugs lowers it first
		{"middle--east", false}, // a double hyphen
		{"-world", false},       // a leading hyphen
		{"world-", false},       // a trailing hyphen
		{"middle east", false},  // a space
		{"café", false},         // letters outside a-z
		{"world_news", false},   // an underscore
		{strings.Repeat("a", MaxSlug), true},
		{strings.Repeat("a", MaxSlug+1), false}, // too long
	}
	for _, tt := range tests {
		if got := ValidSlug(tt.in); got != tt.want {
			t.Errorf("ValidSlug(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeSlugs(t *testing.T) {
	got := NormalizeSlugs([]string{" World", "world", "", "POLITICS", "  "})
	if strings.Join(got, ",") != "world,politics" {
		t.Fatalf("NormalizeSlugs = %q, want world,politics: trimmed, lower-cased, first of each kept in order", got)
	}
	if got := NormalizeSlugs(nil); got == nil || len(got) != 0 {
		t.Fatalf("NormalizeSlugs(nil) = %#v, want an empty list, never nil (JSON [] not null)", got)
	}
}

func TestCheckSlugs(t *testing.T) {
	known := map[string]bool{"world": true}
	var bad InvalidError
	CheckSlugs(&bad, "topics", "topic", []string{"world", "gossip", "no spaces", "weather"}, known)
	if len(bad.Fields) != 3 {
		t.Fatalf("fields = %v, want each of the three faulty slugs named", bad.Fields)
	}
	var none InvalidError
	CheckSlugs(&none, "topics", "topic", []string{"anything"}, nil)
	if none.Err() != nil {
		t.Fatalf("with no known list, any slug passes: %v", none.Err())
	}
}

func TestValidLanguageTag(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"en", true},             // a language
		{"fil", true},            // three letters
		{"pt-BR", true},          // language and region
		{"EN-gb", true},          // case does not matter
		{"zh-Hant-TW", true},     // script and region
		{"es-419", true},         // a numeric region
		{"de-CH-1996", true},     // a variant
		{"sl-rozaj-biske", true}, // two variants
		{"en-a-bbb", true},       // an extension: a singleton followed by a subtag
		{"en-x-wire", true},      // private use
		{"", false},              // empty
		{"e", false},             // a one-letter language
		{"english", false},       // a language name, not a tag
		{"en_GB", false},         // underscore instead of hyphen
		{"en-", false},           // an empty subtag
		{"en--GB", false},        // an empty subtag
		{"en-a", false},          // a singleton with nothing after it
		{"en-toolongsub", false}, // a subtag over eight characters
		{"en-GB!", false},        // punctuation
		{"12", false},            // digits are not a language
		{"en-" + strings.Repeat("abcdefgh-", 4) + "x", false}, // longer than MaxLanguageTag
	}
	for _, tt := range tests {
		if got := ValidLanguageTag(tt.in); got != tt.want {
			t.Errorf("ValidLanguageTag(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPrimaryLanguage(t *testing.T) {
	for in, want := range map[string]string{"en": "en", "pt-BR": "pt", "ZH-Hant": "zh", "": ""} {
		if got := PrimaryLanguage(in); got != want {
			t.Errorf("PrimaryLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckWebURL(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://news.example.com/a/1.html", true},                        // a story
		{"http://news.example.com/a?id=1#top", true},                       // plain http, query and fragment
		{"HTTPS://news.example.com/", true},                                // scheme case does not matter
		{"javascript:alert(1)", false},                                     // would run in readers' pages
		{"data:text/html,hi", false},                                       // not a web link
		{"ftp://files.example.com/a.jpg", false},                           // not http
		{"/a/1.html", false},                                               // relative
		{"https://", false},                                                // no host
		{"https:///path", false},                                           // no host
		{"https://:443/path", false},                                       // a port but no host
		{"https://news.example.com/%zz", false},                            // not a URL
		{"urn:newsml:dpa.com:20090101:2301-99-1", false},                   // an agency id, not a link
		{"https://user:pass@news.example.com/feed", false},                 // credentials
		{"https://user@news.example.com/feed", false},                      // a user name alone
		{"https://news.example.com/" + strings.Repeat("a", MaxURL), false}, // too long
	}
	for _, tt := range tests {
		if got := CheckWebURL(tt.in); (got == "") != tt.ok {
			t.Errorf("CheckWebURL(%.60q) = %q, want ok=%v", tt.in, got, tt.ok)
		}
		if IsWebURL(tt.in) != tt.ok {
			t.Errorf("IsWebURL(%.60q) disagrees with CheckWebURL", tt.in)
		}
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		in          string
		line, lines string // substring of each rule's problem; "" means accepted
	}{
		{"Quake hits the coast", "", ""},                        // plain text
		{"Séisme: 7,1 à Tōkyō — 東京", "", ""},                    // any script
		{"Replacement \uFFFD char", "", ""},                     // a real U+FFFD is text
		{"", "", ""},                                            // empty passes: required is another rule
		{"right-to-left \u200F mark", "", ""},                   // marks are fine; only overrides and isolates are not
		{"two\nlines", "U+000A", ""},                            // a newline: not in a line
		{"tab\there", "U+0009", ""},                             // a tab: not in a line
		{"nul\x00", "U+0000", "U+0000"},                         // NUL: never
		{"bell\a", "U+0007", "U+0007"},                          // C0 controls: never
		{"del\x7f", "U+007F", "U+007F"},                         // DEL
		{"c1\u0085", "U+0085", "U+0085"},                        // C1 controls
		{"cr\r\n", "U+000D", "U+000D"},                          // a carriage return: newlines are \n alone
		{"evil\u202Etxt.exe", "U+202E", "U+202E"},               // right-to-left override
		{"\u202Aembedding", "U+202A", "U+202A"},                 // left-to-right embedding
		{"\u2066isolate\u2069", "U+2066", "U+2066"},             // isolates
		{"first strong \u2068isolate", "U+2068", "U+2068"},      // first strong isolate
		{"bad \xff byte", "not valid UTF-8", "not valid UTF-8"}, // invalid UTF-8
		{"cut \xe2\x82", "not valid UTF-8", "not valid UTF-8"},  // a rune cut short
	}
	for _, tt := range tests {
		for _, c := range []struct {
			rule string
			fn   func(string) string
			want string
		}{{"CheckText", CheckText, tt.line}, {"CheckLines", CheckLines, tt.lines}} {
			got := c.fn(tt.in)
			if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
				t.Errorf("%s(%q) = %q, want %q", c.rule, tt.in, got, c.want)
			}
		}
	}
}

func TestCheckWebURLRefusesHiddenText(t *testing.T) {
	for _, raw := range []string{
		"https://news.example/\u202Egpj.exe",  // an override in the path
		"https://news.example/a\u0085b",       // a C1 control
		"https://news.example/\xff",           // invalid UTF-8
		"https://news.example/\u2066x\u2069/", // isolates
	} {
		if CheckWebURL(raw) == "" {
			t.Errorf("CheckWebURL(%q) accepted it", raw)
		}
	}
}

func TestNormalizeLink(t *testing.T) {
	const story = "https://news.example.org/a"
	tests := []struct {
		in, want string
	}{
		{story, story},                                                                           // already normal
		{"https://NEWS.example.org/a", story},                                                    // host compares without case
		{"HTTPS://news.example.org/a", story},                                                    // so does the scheme
		{"https://news.example.org/a?utm_source=x", story},                                       // a campaign tag
		{"https://news.example.org/a?UTM_Medium=social", story},                                  // tracking names compare without case
		{"https://news.example.org/a/", story},                                                   // a trailing slash
		{"https://news.example.org/a#comments", story},                                           // a fragment
		{"https://news.example.org:443/a", story},                                                // https's default port
		{"http://news.example.org:80/a", "http://news.example.org/a"},                            // http's default port
		{"http://news.example.org/a", "http://news.example.org/a"},                               // http stays apart from https
		{"https://news.example.org:8443/a", "https://news.example.org:8443/a"},                   // another port is another site
		{"https://news.example.org/A", "https://news.example.org/A"},                             // paths keep their case
		{"https://news.example.org/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&igshid=5&ocid=6", story}, // click and mail ids
		{"https://news.example.org/a?id=7&utm_campaign=z", "https://news.example.org/a?id=7"},    // a real parameter stays
		{"https://news.example.org/a?b=2&a=1", "https://news.example.org/a?a=1&b=2"},             // parameters sorted
		{"https://news.example.org/a?a=1&&b=2&", "https://news.example.org/a?a=1&b=2"},           // empty parameters dropped
		{"https://news.example.org/a?", story},                                                   // an empty query
		{"https://editor:pw@news.example.org/a", story},                                          // userinfo is not part of the story
		{"https://news.example.org", "https://news.example.org"},                                 // no path
		{"https://news.example.org/", "https://news.example.org"},                                // the root's slash
		{"https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"},                               // an IPv6 literal
		{"https://[fe80::1%25en0]/a", "https://[fe80::1%25en0]/a"},                               // with a zone, escaped
		{"https://news.example.org:/a", story},                                                   // an empty port
		{"https://news.example.org/a%20b", "https://news.example.org/a%20b"},                     // escapes kept
		{"  " + story + " ", story},                                                              // surrounding space
		{"urn:newsml:dpa.com:20260101:abc", "urn:newsml:dpa.com:20260101:abc"},                   // not a web link: as it is
		{"", ""}, // nothing
	}
	for _, tt := range tests {
		if got := NormalizeLink(tt.in); got != tt.want {
			t.Errorf("NormalizeLink(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := NormalizeLink(tt.want); again != tt.want {
			t.Errorf("NormalizeLink(%q) = %q: not settled after one pass", tt.want, again)
		}
	}
}
