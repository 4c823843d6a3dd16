package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"flashwire/notifier/watch"
)

// The watcher's clock in newWatchTestEnv: 2017-11-11 09:00 UTC. Fresh
// versions below are minutes older; stale ones hours.
const (
	freshTime = "2017-11-11T08:55:00Z"
	staleTime = "2017-11-11T04:00:00Z"
)

// agencyFeed serves a document that a test changes between polls.
type agencyFeed struct {
	*httptest.Server
	mu   sync.Mutex
	body string
}

func newAgencyFeed(tb testing.TB, body string) *agencyFeed {
	tb.Helper()
	f := &agencyFeed{body: body}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, _ = w.Write([]byte(f.body))
	}))
	tb.Cleanup(f.Close)
	return f
}

func (f *agencyFeed) set(body string) { f.mu.Lock(); f.body = body; f.mu.Unlock() }

// The documents, written as the agencies and publishers publish them.
const (
	// ninjs 1.x (AP style): an http uri that is the agency's API address
	// with an access token, no links. The uri is no reader's link.
	ninjs1APIURI = `{"uri": "https://api.wire.example/content/v1/items/4f8c1a?token=s3cr3t",
	 "type": "text", "version": "2", "versioncreated": "` + freshTime + `", "firstcreated": "2017-11-11T08:40:00Z",
	 "pubstatus": "usable", "urgency": 1, "language": "en",
	 "headline": "Quake of magnitude 7.1 hits off Japan coast",
	 "description_text": "A strong earthquake struck off the north-east coast."}`
	// ninjs 2.x (NTB style): a bare UUID uri and a canonical web link.
	ninjs2UUID = `{"uri": "c3f1e0b2-5d4a-4a8e-9b1f-2f7c6d9e8a01", "type": "text",
	 "versioncreated": "` + freshTime + `", "pubstatus": "usable", "urgency": 2, "language": "nb",
	 "headlines": [{"role": "main", "value": "Regjeringen går av"}],
	 "descriptions": [{"role": "summary", "value": "Statsministeren ba om avskjed i statsråd."}],
	 "links": [{"href": "https://api.ntb.example/v2/items/c3f1e0b2?apikey=k", "rel": "self"},
	           {"href": "https://www.ntb.example/nyheter/regjeringen-gar-av", "rel": "canonical"}]}`
	// ninjs 3.0 (dpa style): a URN uri, camelCase, no web link at all;
	// the source's link_template makes one.
	ninjs3URN = `{"items": [{"uri": "urn:newsml:dpa.com:20090101:250515-99-123456", "type": "text",
	 "versionCreated": "` + freshTime + `", "pubStatus": "usable", "urgency": 1, "language": "de",
	 "slugline": "Kanzlerwahl",
	 "headlines": [{"role": "main", "value": "Merz im zweiten Wahlgang zum Kanzler gewählt"}],
	 "links": [{"href": "https://api.dpa.example/v1/items/250515-99-123456?token=x", "rel": "self"}]}]}`
	// ninjs 3.0 with only the API address: held, the editor adds a link.
	ninjs3OnlyAPI = `{"items": [{"uri": "urn:newsml:dpa.com:20090101:250515-99-654321", "type": "text",
	 "versionCreated": "` + freshTime + `", "pubStatus": "usable", "urgency": 1, "language": "de",
	 "headlines": [{"role": "main", "value": "Bundestag löst sich auf"}],
	 "links": [{"href": "https://api.dpa.example/v1/items/250515-99-654321?token=x", "rel": "self"}]}]}`
	// RSS 2.0 with an HTML description in CDATA and entities.
	rssHTML = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example.org/</link>
<item><title>BREAKING: Tor 14 released</title><link>https://news.example.org/tor-14</link>
<guid isPermaLink="false">news.example.org-tor-14</guid><pubDate>Sat, 11 Nov 2017 08:50:00 +0000</pubDate>
<description><![CDATA[<p>Tor 14 is out</p><p>The Tor Browser &amp; its relays update today.</p>]]></description></item>
<item><title>Weather: mild weekend ahead</title><link>https://news.example.org/weather</link>
<guid isPermaLink="false">news.example.org-weather</guid><pubDate>Sat, 11 Nov 2017 08:45:00 +0000</pubDate>
<description>Sunny&lt;br/&gt;then rain</description></item>
</channel></rss>`
	// Atom with an escaped HTML summary and a breaking category.
	atomHTML = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example Wire</title><id>urn:uuid:feed-1</id>
<updated>2017-11-11T08:52:00Z</updated>
<entry><title>Summit ends without a statement</title><id>urn:uuid:8a2b6c1e-summit</id>
<link rel="self" href="https://wire.example.net/api/entries/summit?access_token=t"/>
<link rel="alternate" type="text/html" href="https://wire.example.net/world/summit-ends"/>
<category term="breaking"/><published>2017-11-11T08:30:00Z</published><updated>2017-11-11T08:52:00Z</updated>
<summary type="html">&lt;p&gt;Leaders left Danang&lt;/p&gt;&lt;p&gt;No joint text was agreed.&lt;/p&gt;</summary></entry>
</feed>`
)

// ninjsVersion is one version of a ninjs 1.x item with a canonical link.
func ninjsVersion(versionCreated string) string {
	return `{"uri": "urn:newsml:wire.example:20171111:quake-1", "versioncreated": "` + versionCreated + `",
	 "pubstatus": "usable", "urgency": 1, "headline": "Tsunami warning lifted",
	 "links": [{"href": "https://www.wire.example/quake-1", "rel": "canonical"}]}`
}

// TestWatcherRealInput feeds the watcher items built like real agency and
// publisher output and checks, through the API, that each ends in its
// outcome: pushed with a reader's link, held with the reason, or skipped.
func TestWatcherRealInput(t *testing.T) {
	e, wt, editor := newWatchTestEnv(t)
	ctx := context.Background()
	// addSource creates a source for body, polls it once, and returns its
	// id and its feed.
	addSource := func(t *testing.T, body string, extra map[string]any) (string, *agencyFeed) {
		t.Helper()
		feed := newAgencyFeed(t, body)
		req := map[string]any{"url": feed.URL, "topics": []string{"world"}}
		for k, v := range extra {
			req[k] = v
		}
		status, created := e.do(t, "POST", "/api/v1/sources", testAdminToken, req)
		if status != http.StatusCreated {
			t.Fatalf("create: status %d, body %v", status, created)
		}
		id := created["id"].(string)
		if err := wt.RunOnce(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id, feed
	}
	stories := func(t *testing.T, id string) []map[string]any {
		t.Helper()
		status, body := e.do(t, "GET", "/api/v1/sources/"+id+"/stories", testAdminToken, nil)
		if status != http.StatusOK {
			t.Fatalf("stories: status %d, body %v", status, body)
		}
		var out []map[string]any
		for _, s := range body["stories"].([]any) {
			out = append(out, s.(map[string]any))
		}
		return out
	}
	// pushedTo checks a story's one outcome is "pushed" and returns its
	// alert as the API shows it.
	pushedTo := func(t *testing.T, id string) map[string]any {
		t.Helper()
		list := stories(t, id)
		if len(list) != 1 || list[0]["outcome"] != watch.OutcomePushed || list[0]["alert_id"] == nil {
			t.Fatalf("stories = %v, want one pushed", list)
		}
		status, a := e.do(t, "GET", "/api/v1/alerts/"+url.PathEscape(list[0]["alert_id"].(string)), editor, nil)
		if status != http.StatusOK {
			t.Fatalf("alert: status %d, body %v", status, a)
		}
		return a
	}
	heldStory := func(t *testing.T, storyID string) map[string]any {
		t.Helper()
		_, body := e.do(t, "GET", "/api/v1/held", editor, nil)
		for _, h := range body["held"].([]any) {
			if h := h.(map[string]any); h["story_id"] == storyID {
				return h
			}
		}
		t.Fatalf("story %s not held: %v", storyID, body)
		return nil
	}

	t.Run("Ninjs1APIURIHeld", func(t *testing.T) {
		id, _ := addSource(t, ninjs1APIURI, map[string]any{"name": "Wire (AP style)", "regions": []string{"asia"}})
		list := stories(t, id)
		if len(list) != 1 || list[0]["outcome"] != watch.OutcomeHeld || !strings.Contains(list[0]["reason"].(string), "no public link") {
			t.Fatalf("stories = %v, want one held for no public link", list)
		}
		h := heldStory(t, "https://api.wire.example/content/v1/items/4f8c1a?token=s3cr3t")
		a := h["alert"].(map[string]any)
		if h["source_name"] != "Wire (AP style)" || h["source_id"] != id || h["published_at"] != freshTime ||
			a["url"] != "" || a["id"] != nil || a["published_at"] != nil ||
			!strings.Contains(h["reason"].(string), "no public link") || !strings.Contains(h["reason"].(string), "identifier") ||
			a["regions"].([]any)[0] != "asia" {
			t.Fatalf("held = %v", h)
		}
		// The editor's link is checked as an alert's, then sent.
		status, body := e.do(t, "PATCH", "/api/v1/held/"+h["id"].(string), editor, map[string]any{"url": "javascript:alert(1)"})
		if status != http.StatusBadRequest || !strings.Contains(jsonText(body["fields"]), `"url"`) {
			t.Fatalf("bad link: status %d, body %v", status, body)
		}
		status, body = e.do(t, "PATCH", "/api/v1/held/"+h["id"].(string), editor, map[string]any{
			"url": "https://www.wire.example/quake-japan", "headline": "Magnitude 7.1 quake off Japan", "topics": []string{"world", "science"}, "regions": []string{},
		})
		if status != http.StatusOK || body["edited"] != true || body["alert"].(map[string]any)["url"] != "https://www.wire.example/quake-japan" {
			t.Fatalf("edit: status %d, body %v", status, body)
		}
		status, sent := e.do(t, "POST", "/api/v1/held/"+h["id"].(string)+"/send", editor, nil)
		if status != http.StatusCreated || sent["url"] != "https://www.wire.example/quake-japan" || sent["headline"] != "Magnitude 7.1 quake off Japan" ||
			jsonText(sent["topics"]) != `["world","science"]` || sent["priority"] != "flash" {
			t.Fatalf("send: status %d, body %v", status, sent)
		}
		// The editor's send is the story's outcome now.
		if list := stories(t, id); len(list) != 2 || list[0]["outcome"] != watch.OutcomePushed || list[0]["alert_id"] != sent["id"] || list[0]["reason"] != "sent by an editor" {
			t.Fatalf("stories = %v", list)
		}
	})

	t.Run("Ninjs2UUIDPushedWithCanonicalLink", func(t *testing.T) {
		id, _ := addSource(t, ninjs2UUID, nil)
		a := pushedTo(t, id)
		if a["url"] != "https://www.ntb.example/nyheter/regjeringen-gar-av" || a["headline"] != "Regjeringen går av" {
			t.Fatalf("alert = %v", a)
		}
	})

	t.Run("Ninjs3URNPushedWithTemplate", func(t *testing.T) {
		id, _ := addSource(t, ninjs3URN, map[string]any{"link_template": "https://news.example.com/dpa/{slug}/{id}"})
		a := pushedTo(t, id)
		if a["url"] != "https://news.example.com/dpa/kanzlerwahl/250515-99-123456" || a["priority"] != "flash" {
			t.Fatalf("alert = %v", a)
		}
	})

	t.Run("Ninjs3OnlyAPILinkHeld", func(t *testing.T) {
		id, _ := addSource(t, ninjs3OnlyAPI, nil)
		list := stories(t, id)
		if len(list) != 1 || list[0]["outcome"] != watch.OutcomeHeld || list[0]["held_id"] == nil ||
			!strings.Contains(list[0]["reason"].(string), "API or internal address") {
			t.Fatalf("stories = %v", list)
		}
		h := heldStory(t, "urn:newsml:dpa.com:20090101:250515-99-654321")
		if h["id"] != list[0]["held_id"] || h["alert"].(map[string]any)["url"] != "" {
			t.Fatalf("held = %v", h)
		}
	})

	t.Run("StaleThenFresh", func(t *testing.T) {
		id, feed := addSource(t, ninjsVersion(staleTime), nil)
		list := stories(t, id)
		if len(list) != 1 || list[0]["outcome"] != watch.OutcomeSkipped || !strings.Contains(list[0]["reason"].(string), "too old") {
			t.Fatalf("stories = %v, want one skipped as too old", list)
		}
		// A later poll of the same version says nothing new.
		if err := wt.RunOnce(ctx, id); err != nil {
			t.Fatal(err)
		}
		if n := len(stories(t, id)); n != 1 {
			t.Fatalf("%d outcomes after a second look at the same version", n)
		}
		// The same item comes back fresh: it pushes, once.
		feed.set(ninjsVersion(freshTime))
		for range 2 {
			if err := wt.RunOnce(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		list = stories(t, id)
		if len(list) != 2 || list[0]["outcome"] != watch.OutcomePushed || list[0]["version_at"] != freshTime || list[1]["version_at"] != staleTime {
			t.Fatalf("stories = %v, want pushed after skipped", list)
		}
		status, body := e.do(t, "GET", "/api/v1/alerts?limit=100", editor, nil)
		n := 0
		for _, a := range body["alerts"].([]any) {
			if a.(map[string]any)["url"] == "https://www.wire.example/quake-1" {
				n++
			}
		}
		if status != http.StatusOK || n != 1 {
			t.Fatalf("alerts of the story: %d (status %d), want 1", n, status)
		}
	})

	t.Run("StaleHereFreshInAnotherSource", func(t *testing.T) {
		body := strings.Replace(ninjsVersion(staleTime), "quake-1", "quake-2", -1)
		first, _ := addSource(t, body, nil)
		if list := stories(t, first); len(list) != 1 || list[0]["outcome"] != watch.OutcomeSkipped {
			t.Fatalf("stories = %v", list)
		}
		second, _ := addSource(t, strings.Replace(ninjsVersion(freshTime), "quake-1", "quake-2", -1), nil)
		if a := pushedTo(t, second); a["url"] != "https://www.wire.example/quake-2" {
			t.Fatalf("alert = %v", a)
		}
	})

	t.Run("RSSHTMLSummary", func(t *testing.T) {
		id, _ := addSource(t, rssHTML, nil)
		list := stories(t, id)
		if len(list) != 2 {
			t.Fatalf("stories = %v, want two", list)
		}
		byID := map[string]map[string]any{}
		for _, s := range list {
			byID[s["story_id"].(string)] = s
		}
		if s := byID["news.example.org-weather"]; s["outcome"] != watch.OutcomeSkipped || !strings.Contains(s["reason"].(string), "not flagged") {
			t.Fatalf("weather = %v", s)
		}
		pushed := byID["news.example.org-tor-14"]
		status, a := e.do(t, "GET", "/api/v1/alerts/"+url.PathEscape(pushed["alert_id"].(string)), editor, nil)
		if status != http.StatusOK || a["headline"] != "Tor 14 released" || a["url"] != "https://news.example.org/tor-14" ||
			a["summary"] != "Tor 14 is out. The Tor Browser & its relays update today." {
			t.Fatalf("alert: status %d, body %v", status, a)
		}
	})

	t.Run("AtomHTMLSummary", func(t *testing.T) {
		id, _ := addSource(t, atomHTML, nil)
		a := pushedTo(t, id)
		if a["url"] != "https://wire.example.net/world/summit-ends" || a["summary"] != "Leaders left Danang. No joint text was agreed." {
			t.Fatalf("alert = %v", a)
		}
	})

	t.Run("SourceChecks", func(t *testing.T) {
		for _, tt := range []struct {
			field string
			req   map[string]any
		}{
			// Faster than a second, or malformed.
			{"schedule", map[string]any{"schedule": "@every 1ns"}},
			{"schedule", map[string]any{"schedule": "@every -1s"}},
			{"schedule", map[string]any{"schedule": "@every 0s"}},
			{"schedule", map[string]any{"schedule": "every minute"}},
			// A template without placeholder, with an unknown one, or
			// making an API address.
			{"link_template", map[string]any{"link_template": "https://news.example.com/latest"}},
			{"link_template", map[string]any{"link_template": "https://news.example.com/{headline}"}},
			{"link_template", map[string]any{"link_template": "https://api.example.com/items/{id}?token=1"}},
		} {
			req := map[string]any{"url": "https://news.example.com/feed.rss", "topics": []string{"world"}}
			for k, v := range tt.req {
				req[k] = v
			}
			status, body := e.do(t, "POST", "/api/v1/sources", testAdminToken, req)
			if status != http.StatusBadRequest || !strings.Contains(jsonText(body["fields"]), `"field":"`+tt.field+`"`) {
				t.Errorf("%v: status %d, body %v; want 400 naming %s", tt.req, status, body, tt.field)
			}
		}
	})
}

// jsonText is v as compact JSON, for checks on parts of an answer.
func jsonText(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
