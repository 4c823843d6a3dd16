// Command receiver-go is a partner endpoint for Flashwire webhooks.
//
// It verifies each message's Standard Webhooks signature over the raw body
// with the official Go library, drops repeats by webhook-id, answers 204 at
// once and does the site's own work afterwards, from a queue:
//
//	FLASHWIRE_SECRET=whsec_... go run ./docs/examples/receiver-go -addr 127.0.0.1:9000
//
// Register http(s)://YOUR-HOST:9000/flashwire as the partner URL. Every
// message prints one line: "accepted ID TYPE ALERT", "duplicate ID" or
// "rejected REASON".
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxBody bounds a message; Flashwire's are a few KiB.
const maxBody = 1 << 20

// keepIDs is how long a webhook-id is remembered: retries and replays of a
// message come within days.
const keepIDs = 72 * time.Hour

// message is what the receiver reads of a webhook body; see
// docs/webhooks.md for every field.
type message struct {
	Type string `json:"type"`
	Data struct {
		ID        string `json:"id"`
		Headline  string `json:"headline"`
		URL       string `json:"url"`
		Retracted bool   `json:"retracted"`
	} `json:"data"`
}

// receiver verifies and queues webhook messages.
type receiver struct {
	wh   *standardwebhooks.Webhook
	work chan message
	out  io.Writer

	mu sync.Mutex
	// seen maps a webhook-id to when it was first accepted; a site with
	// several servers keeps these in its database instead. Guarded by mu,
	// as are writes to out.
	seen map[string]time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		rc.print("rejected body: %v", err)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// Verify the exact bytes received, before parsing them.
	if err := rc.wh.Verify(body, r.Header); err != nil {
		rc.print("rejected %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var msg message
	if err := json.Unmarshal(body, &msg); err != nil {
		rc.print("rejected body: %v", err)
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if !rc.firstTime(id) {
		rc.print("duplicate %s", id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	select {
	case rc.work <- msg:
	default:
		// Busy: Flashwire tries again after Retry-After.
		rc.forget(id)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	alert := msg.Data.ID
	if alert == "" {
		alert = "-"
	}
	rc.print("accepted %s %s %s", id, msg.Type, alert)
	w.WriteHeader(http.StatusNoContent)
}

// firstTime records id and reports whether it was new, forgetting ids
// older than keepIDs.
func (rc *receiver) firstTime(id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := time.Now()
	for old, at := range rc.seen {
		if now.Sub(at) > keepIDs {
			delete(rc.seen, old)
		}
	}
	if _, ok := rc.seen[id]; ok {
		return false
	}
	rc.seen[id] = now
	return true
}

func (rc *receiver) forget(id string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.seen, id)
}

func (rc *receiver) print(format string, args ...any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fmt.Fprintf(rc.out, format+"\n", args...)
}

// handle is the site's own work, done after answering.
func handle(msg message) {
	switch msg.Type {
	case "alert.published", "alert.updated":
		// Show or replace the banner for msg.Data.ID with msg.Data.Headline.
	case "alert.retracted":
		// Take down whatever was shown for msg.Data.ID.
	default:
		// "ping" and any event type added later: nothing to do.
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	wh, err := standardwebhooks.NewWebhook(os.Getenv("FLASHWIRE_SECRET"))
	if err != nil || os.Getenv("FLASHWIRE_SECRET") == "" {
		log.Fatalf("set FLASHWIRE_SECRET to the partner's signing secret (whsec_...): %v", err)
	}
	rc := &receiver{wh: wh, work: make(chan message, 1024), out: os.Stdout, seen: map[string]time.Time{}}
	go func() {
		for msg := range rc.work {
			handle(msg)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("POST /flashwire", rc)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	rc.print("listening on http://%s/flashwire", *addr)
	log.Fatal(srv.ListenAndServe())
}
