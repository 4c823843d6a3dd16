package webpush

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"flashwire"
)

// MaxPayload is the most bytes of JSON one push carries: the 4,096 bytes
// push services accept, less the aes128gcm header (86), the tag (16) and
// the padding delimiter (1).
const MaxPayload = 4096 - 86 - 16 - 1

// The message types the service worker tells apart.
const (
	TypeAlert   = "alert"   // a new alert: show it
	TypeUpdate  = "update"  // a correction: replace the one shown (same tag)
	TypeRetract = "retract" // withdrawn: close the one shown
)

// message is the JSON a push carries to the service worker
// (web/static/flashwire-sw.js reads it).
type message struct {
	Type        string    `json:"type"`
	ID          string    `json:"id"`
	Headline    string    `json:"headline,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	URL         string    `json:"url,omitempty"`
	Image       string    `json:"image,omitempty"`
	Priority    string    `json:"priority,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
}

// messageType is the message type of an alert event.
func messageType(t flashwire.EventType) string {
	switch t {
	case flashwire.Updated:
		return TypeUpdate
	case flashwire.Retracted:
		return TypeRetract
	}
	return TypeAlert
}

// Payload returns the JSON pushed for an event of type t about a: at most
// MaxPayload bytes. What does not fit goes, in this order: the image, the
// end of the summary, the end of the headline. A retraction carries only
// the alert's id.
func Payload(t flashwire.EventType, a flashwire.Alert) []byte {
	m := message{Type: messageType(t), ID: a.ID}
	if m.Type != TypeRetract {
		m.Headline, m.Summary, m.URL, m.Image = a.Headline, a.Summary, a.URL, a.ImageURL
		m.Priority, m.PublishedAt = string(a.Priority), a.PublishedAt
	}
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(m)
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		over := len(b) - MaxPayload
		switch {
		case over <= 0:
			return b
		case m.Image != "":
			m.Image = ""
		case m.Summary != "":
			m.Summary = shorten(m.Summary, over)
		default:
			m.Headline = shorten(m.Headline, over)
		}
	}
}

// shorten cuts characters from the end of s until their JSON takes at
// least over bytes more than the ellipsis that marks the cut; "" when
// nothing would be left.
func shorten(s string, over int) string {
	n := len(s)
	for cut := 0; n > 0 && cut < over+len("…"); {
		r, size := utf8.DecodeLastRuneInString(s[:n])
		n -= size
		cut += jsonLen(r)
	}
	if n == 0 {
		return ""
	}
	return s[:n] + "…"
}

// jsonLen is how many bytes encoding/json writes for r in a string.
func jsonLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
		return 6
	}
	return utf8.RuneLen(r)
}

// Urgency is the RFC 8030 Urgency of an alert of priority p: flash and
// urgent alerts may wake a device, normal ones wait for it.
func Urgency(p flashwire.Priority) string {
	if p.Rank() >= flashwire.Urgent.Rank() {
		return "high"
	}
	return "normal"
}

// Lifetime is how long an event about an alert of priority p stays worth
// delivering: a flash alert an hour, an urgent one three, a normal one
// six. After it the push service drops the message, and Flashwire never
// sends it.
func Lifetime(p flashwire.Priority) time.Duration {
	switch p {
	case flashwire.Flash:
		return time.Hour
	case flashwire.Urgent:
		return 3 * time.Hour
	}
	return 6 * time.Hour
}

// Topic is the RFC 8030 Topic of every push about alert id, so that a
// correction or retraction replaces a message still waiting at the push
// service: at most 32 characters of the URL-safe base64 alphabet, which an
// alert id ("MS-SEQ", digits and a hyphen) is.
func Topic(id string) string {
	if len(id) > 32 {
		return id[len(id)-32:]
	}
	return id
}
