package web

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"flashwire"
	"flashwire/notifier/watch"
	"flashwire/subscribers"
)

// The fuzzers feed untrusted bodies and frames to the code that reads
// them: it must never panic, every refusal must be an *InvalidError naming
// a field, and nothing accepted may hold invalid UTF-8. Seeds are below
// and in testdata/fuzz; make test runs each for a few seconds, make fuzz
// for longer.

// taxonomy is the default one, as a new installation has it.
func taxonomy() (topics, regions map[string]bool) {
	topics, regions = map[string]bool{}, map[string]bool{}
	for _, t := range subscribers.DefaultTopics {
		topics[t] = true
	}
	for _, r := range subscribers.DefaultRegions {
		regions[r] = true
	}
	return topics, regions
}

// checkRefusal fails t unless err is nil or an *InvalidError whose every
// field is named.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var bad *flashwire.InvalidError
	if !errors.As(err, &bad) || len(bad.Fields) == 0 {
		t.Fatalf("refusal %v (%T) is not an InvalidError naming fields", err, err)
	}
	for _, f := range bad.Fields {
		if f.Field == "" || f.Problem == "" {
			t.Fatalf("refusal %v names an empty field or problem", err)
		}
	}
}

// decodeChecked decodes data into v as the API does and checks what
// every body must satisfy; it reports whether data was accepted.
func decodeChecked(t *testing.T, data []byte, v any) bool {
	t.Helper()
	err := decodeJSON(data, v)
	checkRefusal(t, err)
	if err == nil && !utf8.Valid(data) {
		t.Fatalf("accepted a body that is not valid UTF-8: %q", data)
	}
	return err == nil
}

func FuzzAlertJSON(f *testing.F) {
	for _, seed := range []string{
		`{"headline":"Quake","url":"https://news.example/q","topics":["world"],"priority":"flash"}`,
		`{"headline":"Quake","url":"https://news.example/q","topics":["world"],"send_at":"2030-01-01T00:00:00Z","force":true}`,
		`{"headline":"Q\u202Euake","summary":"a\nb","url":"https://x.example/","topics":["World"," sport"],"language":"pt-BR"}`,
		`{"headline":null,"topics":{},"send_at":5}`,
		"{\"headline\":\"\xff\"}",
		`{"headline":"\ud800"}`,
		`null`, `[]`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
	} {
		f.Add([]byte(seed))
	}
	topics, regions := taxonomy()
	f.Fuzz(func(t *testing.T, data []byte) {
		var req alertRequest
		if !decodeChecked(t, data, &req) {
			return
		}
		a := req.alert()
		a.Normalize()
		var bad flashwire.InvalidError
		a.Validate(&bad, topics, regions)
		checkRefusal(t, bad.Err())
		if bad.Err() != nil {
			return
		}
		// An alert that passes is what readers may be shown.
		for field, text := range map[string]string{"headline": a.Headline, "url": a.URL, "image_url": a.ImageURL} {
			if p := flashwire.CheckText(text); p != "" {
				t.Fatalf("accepted %s %q, which %s", field, text, p)
			}
		}
		if p := flashwire.CheckLines(a.Summary); p != "" {
			t.Fatalf("accepted summary %q, which %s", a.Summary, p)
		}
		// The duplicate guard's form of the link is a link too, and settled.
		if n := flashwire.NormalizeLink(a.URL); !flashwire.IsWebURL(n) || flashwire.NormalizeLink(n) != n {
			t.Fatalf("link %q normalises to %q, then %q", a.URL, n, flashwire.NormalizeLink(n))
		}
		if len(a.Topics) == 0 || a.Priority.Rank() == 0 || !flashwire.ValidLanguageTag(a.Language) {
			t.Fatalf("accepted %+v", a)
		}
	})
}

func FuzzPreferencesJSON(f *testing.F) {
	for _, seed := range []string{
		`{"topics":["world"],"regions":["uk"],"languages":["en-GB"],"min_priority":"urgent"}`,
		`{"quiet_hours":{"start":"22:00","end":"07:00","tz":"Europe/London","allow_flash":true},"paused_until":"2026-12-01T08:00:00Z"}`,
		`{"quiet_hours":{"start":"22:00","o":1}}`,
		`{"quiet_hours":null,"paused_until":""}`,
		"{\"topics\":[\"w\xc3\"]}",
		`null`, `{"topics":"world"}`,
	} {
		f.Add([]byte(seed))
	}
	topics, regions := taxonomy()
	f.Fuzz(func(t *testing.T, data []byte) {
		var body preferencesBody
		if !decodeChecked(t, data, &body) {
			return
		}
		p := subscribers.Preferences{Topics: body.Topics, Regions: body.Regions, Languages: body.Languages,
			MinPriority: body.MinPriority, QuietHours: body.QuietHours}
		p.Normalize()
		var bad flashwire.InvalidError
		p.Validate(&bad, topics, regions)
		checkRefusal(t, bad.Err())
	})
}

func FuzzPartnerJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Daily Planet","url":"https://planet.example/hook","topics":["world"],"events":["alert.published"],"contact":"ops@planet.example"}`,
		`{"name":"Daily\u0000Planet","url":"https://u:p@planet.example/#x","min_priority":"low"}`,
		`{"state":"disabled","disabled_reason":"410 Gone","name":"\u2066x"}`,
		`{"events":[1,2],"languages":null}`,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	topics, regions := taxonomy()
	f.Fuzz(func(t *testing.T, data []byte) {
		var req partnerRequest
		if decodeChecked(t, data, &req) {
			p := subscribers.Partner{Name: req.Name, URL: req.URL, Topics: req.Topics, Regions: req.Regions,
				Languages: req.Languages, MinPriority: req.MinPriority, Events: req.Events, Contact: req.Contact}
			checkPartner(t, p, topics, regions)
		}
		var patch partnerPatch
		if decodeChecked(t, data, &patch) {
			p := subscribers.Partner{Name: "Daily Planet", URL: "https://planet.example/hook", Topics: []string{"world"}}
			patch.apply(&p)
			checkPartner(t, p, topics, regions)
		}
	})
}

func checkPartner(t *testing.T, p subscribers.Partner, topics, regions map[string]bool) {
	t.Helper()
	p.Normalize()
	var bad flashwire.InvalidError
	p.Validate(&bad, topics, regions)
	checkRefusal(t, bad.Err())
	if bad.Err() == nil {
		for field, text := range map[string]string{"name": p.Name, "url": p.URL, "contact": p.Contact, "disabled_reason": p.DisabledReason} {
			if pr := flashwire.CheckText(text); pr != "" {
				t.Fatalf("accepted partner %s %q, which %s", field, text, pr)
			}
		}
	}
}

func FuzzSourceJSON(f *testing.F) {
	for _, seed := range []string{
		`{"url":"https://news.example.com/world.rss","format":"auto","schedule":"@every 15s","mode":"auto","topics":["world"],"regions":["europe"],"language":"en","category_topics":{"Politics":"politics"},"breaking":{"labels":["Breaking News"],"title_prefixes":["BREAKING:"],"max_urgency":2},"max_age":"2h"}`,
		`{"breaking":{"labels":null,"max_urgency":"2","extra":true}}`,
		`{"category_topics":{"a":1}}`,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var patch watch.SourcePatch
		if !decodeChecked(t, data, &patch) {
			return
		}
		var src watch.Source
		patch.Apply(&src)
	})
}

func FuzzClientFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"ping"}`,
		`{"type":"subscribe","topics":["Sport"," world"],"regions":[],"lang":["en"],"min_priority":"urgent"}`,
		`{"type":"subscribe","min_priority":"loud"}`,
		`{"type":"subscribe","topics":"sport"}`,
		`{"type":"dance"}`, `[]`, `null`, `"ping"`, "{\"type\":\"p\xffing\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &client{}
		stored := subscribers.Preferences{QuietHours: &subscribers.QuietHours{Start: "22:00", End: "07:00", TZ: "UTC"}}
		c.prefs.Store(&stored)
		reply := c.handleMessage(data)
		if reply == nil {
			t.Fatalf("no reply to %q: every frame is answered", data)
		}
		var m map[string]any
		if err := json.Unmarshal(reply.data, &m); err != nil {
			t.Fatalf("reply %q is not a JSON object: %v", reply.data, err)
		}
		switch m["type"] {
		case "pong", "error":
		case "subscribed":
			p := c.prefs.Load()
			if p.QuietHours == nil {
				t.Fatal("a subscribe frame dropped the reader's quiet hours")
			}
			for _, l := range [][]string{p.Topics, p.Regions, p.Languages} {
				if len(l) > maxFilterValues {
					t.Fatalf("a filter of %d values was accepted", len(l))
				}
				for _, s := range l {
					if s == "" || s != strings.ToLower(strings.TrimSpace(s)) {
						t.Fatalf("filter value %q was not normalised", s)
					}
				}
			}
			if p.MinPriority != "" && p.MinPriority.Rank() == 0 {
				t.Fatalf("min_priority %q was accepted", p.MinPriority)
			}
		default:
			t.Fatalf("reply %q has no known type", reply.data)
		}
	})
}
