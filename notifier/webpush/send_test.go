package webpush

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/pushtest"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

var breaking = flashwire.Alert{
	Headline: "Earthquake shakes the capital",
	Summary:  "Buildings were evacuated after a strong tremor.",
	URL:      "https://news.example.com/quake",
	ImageURL: "https://news.example.com/quake.jpg",
	Topics:   []string{"world"},
	Priority: flashwire.Flash,
}

// TestSend publishes one alert to readers with one or two browsers each,
// and readers who asked for another topic: every subscription of the
// matching readers gets exactly one push, which the stand-in decrypts with
// its own RFC 8291 code and whose VAPID signature it verifies, with the
// headers the priority asks for; the figures add up.
func TestSend(t *testing.T) {
	e := newEnv(t)
	want := map[string]bool{}
	for i := range 30 {
		_, subs := e.subscribe(t, subscribers.Preferences{Topics: []string{"world"}}, 1+i%2)
		for _, s := range subs {
			want[s.Endpoint] = true
		}
	}
	for range 5 {
		e.subscribe(t, subscribers.Preferences{Topics: []string{"sport"}}, 1)
	}
	// Two instances on one queue: never twice holds between them too.
	e.start(t, e.sender(t, Options{Batch: 4, Workers: 16}), e.sender(t, Options{Batch: 4, Workers: 16}))
	a := e.publish(t, breaking)
	cs := e.figures(t, a.ID, func(cs notifier.ChannelStats) bool { return cs.Reached == int64(len(want)) })
	if cs.Failed != 0 || cs.Removed != 0 || cs.Expired != 0 || cs.FirstMS == nil || cs.P99MS == nil {
		t.Fatalf("figures %+v", cs)
	}
	got := e.received(t)
	if len(got) != len(want) {
		t.Fatalf("%d pushes, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, p := range got {
		if !want[p.Endpoint] || seen[p.Endpoint] {
			t.Fatalf("push to %s: not subscribed to the alert, or twice", p.Endpoint)
		}
		seen[p.Endpoint] = true
		if p.Type != TypeAlert || p.ID != a.ID || p.Headline != a.Headline || p.Summary != a.Summary ||
			p.URL != a.URL || p.Image != a.ImageURL || p.Priority != "flash" {
			t.Fatalf("payload %+v", p.message)
		}
		ttl, _ := strconv.Atoi(p.Header.Get("TTL"))
		if ttl < 3500 || ttl > 3600 || p.Header.Get("Urgency") != "high" || p.Header.Get("Topic") != a.ID {
			t.Fatalf("headers TTL %s Urgency %s Topic %s", p.Header.Get("TTL"), p.Header.Get("Urgency"), p.Header.Get("Topic"))
		}
	}
	aud, _ := e.store.CountAudience(context.Background(), a.Attrs(), time.Now())
	if aud.Push != int64(len(want)) {
		t.Fatalf("audience counts %d push subscriptions, want %d", aud.Push, len(want))
	}
}

// TestCorrectionAndRetraction: a correction and a retraction reach the
// subscriptions the alert reached, with its topic; a correction that
// widens the targeting also reaches the readers it now matches, and a
// browser that never got the alert gets no retraction.
func TestCorrectionAndRetraction(t *testing.T) {
	e := newEnv(t)
	_, subs := e.subscribe(t, subscribers.Preferences{}, 3)
	e.start(t, e.sender(t, Options{}))
	a := e.publish(t, flashwire.Alert{Headline: "Vote delayed", URL: "https://news.example.com/vote", Topics: []string{"politics"}})
	e.figures(t, a.ID, func(cs notifier.ChannelStats) bool { return cs.Reached == 3 })
	_, lateSubs := e.subscribe(t, subscribers.Preferences{Topics: []string{"science"}}, 1)
	a.Headline = "Vote delayed to Tuesday"
	a.Topics = []string{"politics", "science"}
	if _, err := e.alerts.Update(context.Background(), a.ID, a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the correction", func() bool { return len(e.push.Messages()) == 7 })
	if _, err := e.alerts.Retract(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retraction", func() bool { return len(e.push.Messages()) == 10 })
	time.Sleep(300 * time.Millisecond)
	byType := map[string]map[string]int{}
	for _, p := range e.received(t) {
		if byType[p.Type] == nil {
			byType[p.Type] = map[string]int{}
		}
		byType[p.Type][p.Endpoint]++
		if p.ID != a.ID || p.Header.Get("Topic") != a.ID {
			t.Fatalf("%s push about %s, topic %s", p.Type, p.ID, p.Header.Get("Topic"))
		}
		if p.Type == TypeUpdate && p.Headline != "Vote delayed to Tuesday" {
			t.Fatalf("correction says %q", p.Headline)
		}
		if p.Type == TypeRetract && (p.Headline != "" || p.URL != "") {
			t.Fatalf("retraction carries %+v", p.message)
		}
		if u := p.Header.Get("Urgency"); u != "normal" {
			t.Fatalf("normal alert pushed with urgency %s", u)
		}
	}
	for _, s := range subs {
		for _, typ := range []string{TypeAlert, TypeUpdate, TypeRetract} {
			if byType[typ][s.Endpoint] != 1 {
				t.Fatalf("%s pushes to %s: %d, want 1", typ, s.Endpoint, byType[typ][s.Endpoint])
			}
		}
	}
	if byType[TypeUpdate][lateSubs[0].Endpoint] != 1 {
		t.Fatal("a reader the correction's targeting reaches did not get it")
	}
	if n := byType[TypeRetract][lateSubs[0].Endpoint]; n != 0 {
		t.Fatal("a browser that never got the alert got its retraction")
	}
}

// TestAnswers checks what each push service answer does.
func TestAnswers(t *testing.T) {
	for _, tt := range []struct {
		name string
		// answers are the statuses and Retry-After of the first pushes; 201
		// after them.
		answers []answer
		want    func(cs notifier.ChannelStats) bool
		pushes  int
		// gap is the least time between the first push and the next.
		gap  time.Duration
		kept bool   // whether the subscription stays
		log  string // a line the log must have
	}{
		// Created: delivered.
		{"201", nil, func(cs notifier.ChannelStats) bool { return cs.Reached == 1 }, 1, 0, true, ""},
		// Gone, or never known: the subscription is removed at once.
		{"404", []answer{{404, ""}}, func(cs notifier.ChannelStats) bool { return cs.Removed == 1 }, 1, 0, false, ""},
		{"410", []answer{{410, ""}}, func(cs notifier.ChannelStats) bool { return cs.Removed == 1 }, 1, 0, false, ""},
		// Too large is a bug of ours: failed, and logged at error level
		// with the payload's size.
		{"413", []answer{{413, ""}}, func(cs notifier.ChannelStats) bool { return cs.Failed == 1 }, 1, 0, true,
			`"level":"ERROR","msg":"push service refused a payload as too large`},
		// Too many: wait as long as Retry-After says, then deliver.
		{"429", []answer{{429, "2"}}, func(cs notifier.ChannelStats) bool { return cs.Reached == 1 }, 2, 2 * time.Second, true, ""},
		// A server error with Retry-After: the same.
		{"503", []answer{{503, "1"}}, func(cs notifier.ChannelStats) bool { return cs.Reached == 1 }, 2, time.Second, true, ""},
		// A server error without: the first step of the retry schedule (5 s, ±20 %).
		{"500", []answer{{500, ""}}, func(cs notifier.ChannelStats) bool { return cs.Reached == 1 }, 2, 4 * time.Second, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			reader, _ := e.subscribe(t, subscribers.Preferences{}, 1)
			e.push.SetAnswer(func(_ string, n int) (int, http.Header) {
				if n <= len(tt.answers) {
					h := http.Header{}
					if ra := tt.answers[n-1].retryAfter; ra != "" {
						h.Set("Retry-After", ra)
					}
					return tt.answers[n-1].status, h
				}
				return http.StatusCreated, nil
			})
			e.start(t, e.sender(t, Options{}))
			a := e.publish(t, breaking)
			e.figures(t, a.ID, tt.want)
			msgs := e.push.Messages()
			if len(msgs) != tt.pushes {
				t.Fatalf("%d pushes, want %d", len(msgs), tt.pushes)
			}
			if tt.gap > 0 && msgs[1].At.Sub(msgs[0].At) < tt.gap {
				t.Fatalf("retried after %v, want at least %v", msgs[1].At.Sub(msgs[0].At), tt.gap)
			}
			left, _ := e.store.ReaderPush(context.Background(), reader)
			if (len(left) == 1) != tt.kept {
				t.Fatalf("subscriptions left %v; kept should be %v", left, tt.kept)
			}
			if tt.log != "" && !strings.Contains(e.logs.String(), tt.log) {
				t.Fatalf("log lacks %q:\n%s", tt.log, e.logs.String())
			}
			if tt.name == "413" && !strings.Contains(e.logs.String(), `"payload_bytes":`) {
				t.Fatal("the 413 log line does not give the payload's size")
			}
		})
	}
}

type answer struct {
	status     int
	retryAfter string
}

// TestExpired: a push service that asks to wait past the alert's lifetime
// never gets it; the figures count it expired.
func TestExpired(t *testing.T) {
	e := newEnv(t)
	e.subscribe(t, subscribers.Preferences{}, 1)
	e.push.SetAnswer(func(string, int) (int, http.Header) {
		return http.StatusTooManyRequests, http.Header{"Retry-After": {"7200"}}
	})
	var mu sync.Mutex
	var ahead time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(ahead) }
	s := e.sender(t, Options{Lease: time.Hour})
	s.Now = clock
	e.start(t, s)
	a := e.publish(t, breaking) // flash: one hour
	waitFor(t, "the first push", func() bool { return len(e.push.Messages()) == 1 })
	mu.Lock()
	ahead = 2*time.Hour + time.Minute
	mu.Unlock()
	cs := e.figures(t, a.ID, func(cs notifier.ChannelStats) bool { return cs.Expired == 1 })
	if cs.Reached != 0 || len(e.push.Messages()) != 1 {
		t.Fatalf("figures %+v after %d pushes; want one push, expired", cs, len(e.push.Messages()))
	}
}

// TestPayload checks what a push carries and that it always fits.
func TestPayload(t *testing.T) {
	// Control characters take six bytes each in JSON: the worst case.
	long := flashwire.Alert{ID: "1732650000000-0", Headline: strings.Repeat("\x01", 140),
		Summary: strings.Repeat("\x02", 400), URL: "https://n.example/" + strings.Repeat("a", 2000),
		ImageURL: "https://n.example/" + strings.Repeat("i", 2000), Priority: flashwire.Urgent}
	for _, tt := range []struct {
		name string
		t    flashwire.EventType
		a    flashwire.Alert
		want func(m string) bool
	}{
		// A plain alert carries every field.
		{"alert", flashwire.Published, breaking, func(m string) bool { return strings.Contains(m, `"image":"https://news.example.com/quake.jpg"`) }},
		// The largest alert loses its image and the end of its summary, never its link.
		{"too long", flashwire.Published, long, func(m string) bool {
			return !strings.Contains(m, `"image"`) && strings.Contains(m, long.URL) && strings.Contains(m, "…")
		}},
		// A retraction carries the id alone.
		{"retract", flashwire.Retracted, breaking, func(m string) bool { return m == `{"type":"retract","id":""}` }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := Payload(tt.t, tt.a)
			if len(p) > MaxPayload || !tt.want(string(p)) {
				t.Fatalf("payload of %d bytes: %s", len(p), p)
			}
		})
	}
}

// TestHTTPECE has an independent implementation, the npm package http_ece
// run by node, decrypt a push Flashwire encrypted.
func TestHTTPECE(t *testing.T) {
	root, _ := filepath.Abs("../..")
	modules := filepath.Join(root, ".tools", "npm", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "http_ece", "ece.js")); err != nil {
		redistest.Missing(t, "the npm package http_ece in .tools/npm (run make deps)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		redistest.Missing(t, "node (apt-get install nodejs)")
	}
	e := newEnv(t)
	_, subs := e.subscribe(t, subscribers.Preferences{}, 1)
	e.start(t, e.sender(t, Options{}))
	a := e.publish(t, breaking)
	waitFor(t, "the push", func() bool { return len(e.push.Messages()) == 1 })
	m := e.push.Messages()[0]
	priv, auth := e.push.Keys(subs[0].Endpoint)
	body := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(body, m.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	const script = `const ece = require("http_ece"), crypto = require("crypto"), fs = require("fs");
const [body, priv, auth] = process.argv.slice(1);
const key = crypto.createECDH("prime256v1");
key.setPrivateKey(Buffer.from(priv, "base64url"));
process.stdout.write(ece.decrypt(fs.readFileSync(body), {version: "aes128gcm", privateKey: key, authSecret: auth}));`
	cmd := exec.Command(node, "-e", script, body, pushtest.B64(priv.Bytes()), pushtest.B64(auth))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("http_ece: %v\n%s", err, out)
	}
	if string(out) != string(Payload(flashwire.Published, a)) || string(out) != string(m.Plain) {
		t.Fatalf("http_ece read %q\nthe stand-in read %q", out, m.Plain)
	}
}
