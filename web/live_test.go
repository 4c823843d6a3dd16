package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"flashwire/internal/redistest"
	"flashwire/subscribers"
)

// getJSON sends a plain GET (no upgrade) and returns the status, the
// error body and the headers.
func getJSON(tb testing.TB, url string) (int, errorBody, http.Header) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body errorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

func namedFields(b errorBody) string {
	var out []string
	for _, f := range b.Fields {
		out = append(out, f.Field)
	}
	return strings.Join(out, ",")
}

// TestLiveRefusals checks what GET /ws and GET /events answer, before any
// upgrade or stream, to filters that could never deliver: each is refused
// with the status docs/protocol.md gives and a plain message.
func TestLiveRefusals(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	for _, path := range []string{"/ws", "/events"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			tests := []struct {
				name   string
				query  string
				status int
				fields string
				error  string // the whole message, when it matters
			}{
				// A typo in a site's widget: alerts would never arrive.
				{"unknown topic", "topics=world,wrold", 400, "topics", ""},
				{"unknown region", "regions=europe,atlantis", 400, "regions", ""},
				{"both", "topics=gossip&regions=mars&min_priority=loud", 400, "topics,regions,min_priority", ""},
				// A reader id that is not one.
				{"malformed reader", "reader=12345", 400, "reader", ""},
				// An unknown reader: a plain 404, no error chain.
				{"unknown reader", "reader=" + subscribers.NewReaderID(), 404, "", "no reader has this id"},
			}
			for _, tt := range tests {
				code, body, _ := getJSON(t, env.URL+path+"?"+tt.query)
				if code != tt.status || namedFields(body) != tt.fields || (tt.error != "" && body.Error != tt.error) {
					t.Errorf("%s: %d %+v, want %d naming %q", tt.name, code, body, tt.status, tt.fields)
				}
			}
		})
	}
	// Known slugs, in any case and with spaces, connect.
	if c := dial(t, env.wsURL("topics=World,%20politics&regions=europe"), nil); c.hello["type"] != "hello" {
		t.Fatalf("first frame %v, want hello", c.hello)
	}
}

// TestLiveReaderProbes checks that guessing reader ids on the live routes
// is limited per address like the preferences API, and that the limit
// answers 429 with Retry-After.
func TestLiveReaderProbes(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	known := subscribers.NewReaderID()
	if _, _, err := subscribers.NewStore(rdb).PutReader(context.Background(), known, subscribers.Preferences{}); err != nil {
		t.Fatal(err)
	}
	// A known reader never uses up the allowance.
	for range 3 {
		c := dial(t, env.wsURL("reader="+known), nil)
		c.Close()
	}
	for i := range readerBurst {
		path := "/ws"
		if i%2 == 1 {
			path = "/events"
		}
		if code, _, _ := getJSON(t, env.URL+path+"?reader="+subscribers.NewReaderID()); code != 404 {
			t.Fatalf("probe %d = %d, want 404 within the allowance", i, code)
		}
	}
	for _, path := range []string{"/ws?reader=" + subscribers.NewReaderID(), "/events?reader=" + known} {
		code, body, h := getJSON(t, env.URL+path)
		secs, _ := strconv.Atoi(h.Get("Retry-After"))
		if code != 429 || secs < 1 || body.RetryAfter != int64(secs) {
			t.Errorf("%s past the allowance = %d, Retry-After %q, body %+v; want 429 with a wait", path, code, h.Get("Retry-After"), body)
		}
	}
	// Connections without a reader id are not probes.
	dial(t, env.wsURL("topics=world"), nil)
}
