package watch

import (
	"strings"
	"testing"
)

func TestPlainText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Paragraphs become sentences: ". " where the first has no stop.
		{"<p>Tor 14 is out</p><p>The Tor Browser ships today.</p>", "Tor 14 is out. The Tor Browser ships today."},
		// A paragraph ending with a stop is joined by a space only.
		{"<p>Tor 14 is out!</p>\n<p>More soon</p>", "Tor 14 is out! More soon"},
		// Line breaks, list items, headings and quotes are blocks too.
		{"First line<br/>second line<br>third", "First line. second line. third"},
		{"<ul><li>one</li><li>two.</li></ul>", "one. two."},
		{"<h2>Title</h2><blockquote>Quoted</blockquote>", "Title. Quoted"},
		// A closing quote after the stop still ends the sentence.
		{`<p>He said "no."</p><p>Then left</p>`, `He said "no." Then left`},
		// Inline elements stay within their sentence; entities decode.
		{"<p>Prices <b>rose</b> &amp; fell&nbsp;again</p>", "Prices rose & fell again"},
		// Empty blocks leave no stray stops.
		{"<p></p><div> </div><p>Only this</p><br/>", "Only this"},
		// Plain text is untouched but for spaces.
		{"  just   text ", "just text"},
	}
	for _, tt := range tests {
		if got := plainText(tt.in); got != tt.want {
			t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckSchedule(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
	}{
		{"@every 15s", true},
		{"@every 1s", true},
		{"*/30 * * * * *", true},
		{"*/5 * * * *", true},
		{"@hourly", true},
		// Faster than a second, negative, zero: the cron library would
		// round each up to a second without a word.
		{"@every 1ns", false},
		{"@every 999ms", false},
		{"@every -1s", false},
		{"@every 0s", false},
		{"@every soon", false},
		{"sometimes", false},
		{"* * *", false},
	}
	for _, tt := range tests {
		if problem := checkSchedule(tt.spec); (problem == "") != tt.ok {
			t.Errorf("checkSchedule(%q) = %q, want ok %v", tt.spec, problem, tt.ok)
		}
	}
}

func TestInternalLink(t *testing.T) {
	tests := []struct {
		link     string
		internal bool
	}{
		{"https://www.dpa.example/politik/merz-kanzler-123.html", false},
		{"https://news.example.com/a?utm_source=x", false},
		// An agency's API address, with an access token in its query.
		{"https://api.agency.example/v1/items/abc?token=s3cr3t", true},
		{"https://content.agency.example/items/abc?access_token=s3cr3t", true},
		{"https://content.agency.example/items/abc?apiKey=1", true},
		{"https://agency.example/api/v2/items/abc", true},
		{"https://user:pw@agency.example/items/abc", true},
		// Internal hosts.
		{"http://10.0.0.7/items/abc", true},
		{"http://repo.internal/items/abc", true},
		{"http://cms/items/abc", true},
		{"http://localhost:8080/items/abc", true},
	}
	for _, tt := range tests {
		if got := internalLink(tt.link); (got != "") != tt.internal {
			t.Errorf("internalLink(%q) = %q, want internal %v", tt.link, got, tt.internal)
		}
	}
}

func TestLinkTemplate(t *testing.T) {
	s := Story{ID: "urn:newsml:dpa.com:20090101:250515-99-123456", Headline: "Merz wird Kanzler", Slug: "Kanzlerwahl"}
	tests := []struct {
		tmpl    string
		want    string // the link made from s, "" when the template is refused
		problem string // part of the refusal
	}{
		{"https://news.example.com/dpa/{id}", "https://news.example.com/dpa/250515-99-123456", ""},
		{"https://news.example.com/{slug}-{id}", "https://news.example.com/kanzlerwahl-250515-99-123456", ""},
		// The identity is escaped, so it stays one part of the link.
		{"https://news.example.com/item?ref={uri}", "https://news.example.com/item?ref=urn%3Anewsml%3Adpa.com%3A20090101%3A250515-99-123456", ""},
		{"https://news.example.com/{GUID}", "https://news.example.com/urn%3Anewsml%3Adpa.com%3A20090101%3A250515-99-123456", ""},
		// Refused: no placeholder, an unknown one, a stray brace, not a
		// web link, an internal address.
		{"https://news.example.com/latest", "", "no placeholder"},
		{"https://news.example.com/{headline}", "", "unknown placeholder"},
		{"https://news.example.com/{id}/{slug", "", "brace"},
		{"ftp://news.example.com/{id}", "", ""},
		{"https://api.agency.example/items/{id}?token=x", "", "public"},
		// A placeholder in the host would let the feed choose the site
		// readers land on (an id of ".attacker.net").
		{"https://news.example.com{id}", "", "host"},
		{"https://{slug}.example.com/", "", "host"},
		{"https://news.example.com:{id}/", "", "host"},
	}
	for _, tt := range tests {
		problem := checkLinkTemplate(tt.tmpl)
		if tt.want == "" {
			if problem == "" || !strings.Contains(problem, tt.problem) {
				t.Errorf("checkLinkTemplate(%q) = %q, want a problem with %q", tt.tmpl, problem, tt.problem)
			}
			continue
		}
		if problem != "" {
			t.Errorf("checkLinkTemplate(%q) = %q", tt.tmpl, problem)
		}
		if got := expandLink(tt.tmpl, s); got != tt.want {
			t.Errorf("expandLink(%q) = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
}

func TestFeedLinks(t *testing.T) {
	const rssDoc = `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Permalink guid</title><guid>https://news.example.org/a</guid></item>
<item><title>Opaque guid</title><guid isPermaLink="false">https://news.example.org/b</guid></item>
<item><title>API link</title><link>https://news.example.org/c?token=x</link><guid isPermaLink="false">c</guid></item>
</channel></rss>`
	stories, err := Parse([]byte(rssDoc), FormatRSS)
	if err != nil || len(stories) != 3 {
		t.Fatalf("parse: %v, %v", stories, err)
	}
	// A permalink guid is the item's page; one marked otherwise is not.
	if stories[0].URL != "https://news.example.org/a" || stories[1].URL != "" {
		t.Errorf("links = %q, %q", stories[0].URL, stories[1].URL)
	}
	// A link with a token is kept out of alerts.
	if stories[2].URL != "" || stories[2].InternalLink == "" {
		t.Errorf("API link: %+v", stories[2])
	}
}

func TestReaderLink(t *testing.T) {
	api := Story{ID: "https://api.wire.example/v1/items/4f8c1a?token=s3cr3t", Headline: "Quake"}
	tests := []struct {
		tmpl    string
		s       Story
		want    string
		problem bool
	}{
		// {id} takes the API address's last path segment, not its query.
		{"https://news.example.com/{id}", api, "https://news.example.com/4f8c1a", false},
		// {uri} would carry the token to readers: held instead.
		{"https://news.example.com/item?ref={uri}", api, "", true},
		// Without a template, an API address is no link.
		{"", api, "", true},
		{"", Story{ID: "urn:newsml:x:1", URL: "https://www.wire.example/quake"}, "https://www.wire.example/quake", false},
		// A template stored before the host rule: an item's value that
		// would change the host holds the story.
		{"https://news.example.com{id}", Story{ID: ".attacker.net", Headline: "Odd"}, "", true},
	}
	for _, tt := range tests {
		got, problem := readerLink(Source{LinkTemplate: tt.tmpl}, tt.s)
		if got != tt.want || (problem != "") != tt.problem || strings.Contains(problem, "s3cr3t") {
			t.Errorf("readerLink(%q, %q) = %q, %q", tt.tmpl, tt.s.ID, got, problem)
		}
	}
}
