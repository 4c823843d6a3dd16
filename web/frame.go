package web

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"flashwire"
	"flashwire/notifier"
)

type frameKind uint8

const (
	frameEvent frameKind = iota // an alert, update or retraction
	frameText                   // a reply to one client (pong, subscribed, error)
	framePing                   // a WebSocket ping
	frameClose                  // the shutdown goodbye
)

// frame is one thing to write to a client. An event frame is built once per
// event and shared, read-only, by every connection that receives it.
type frame struct {
	kind    frameKind
	seq     string // log event id of an event frame
	alertID string
	// event is what an event frame tells its client: the alert itself
	// (Published), an update or a retraction; logEvent is the type of the
	// log event it comes from. Figures count by both.
	event, logEvent flashwire.EventType
	attrs           flashwire.Attrs
	// previous is, for an update that changed the alert's targeting, the
	// targeting it replaced; entering and leaving are then the same update
	// as the alert itself and as a retraction, for connections it newly
	// matches or no longer matches (see choose).
	previous          *flashwire.Attrs
	entering, leaving *frame
	// appended is when the event entered the log, read from its id.
	appended time.Time
	pm       *websocket.PreparedMessage // event frames: the WebSocket bytes
	sse      []byte                     // event frames: the SSE bytes
	data     []byte                     // frameText payload
	retryMS  int                        // frameClose
	fanout   *fanout                    // nil for replayed and control frames
}

// wireAlert is an alert as readers' browsers see it.
type wireAlert struct {
	ID          string    `json:"id"`
	Headline    string    `json:"headline"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url"`
	ImageURL    string    `json:"image_url"`
	Topics      []string  `json:"topics"`
	Regions     []string  `json:"regions"`
	Language    string    `json:"language"`
	Priority    string    `json:"priority"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// eventMessage is the alert, update and retract frames of the protocol.
type eventMessage struct {
	Type  string     `json:"type"`
	Seq   string     `json:"seq"`
	Alert *wireAlert `json:"alert,omitempty"`
	ID    string     `json:"id,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// newEventFrame encodes ev once for both transports. An update that
// changed the alert's targeting is also encoded as an alert frame and as a
// retraction, once each.
func newEventFrame(ev flashwire.Event) (*frame, error) {
	var typ string
	switch ev.Type {
	case flashwire.Published:
		typ = "alert"
	case flashwire.Updated:
		typ = "update"
	case flashwire.Retracted:
		typ = "retract"
	default:
		return nil, fmt.Errorf("event %s has unknown type %q", ev.ID, ev.Type)
	}
	f, err := encodeEvent(ev.ID, typ, ev.Type, ev.Alert)
	if err != nil {
		return nil, err
	}
	if ev.Type == flashwire.Updated && ev.Previous != nil && !sameAttrs(*ev.Previous, f.attrs) {
		f.previous = ev.Previous
		if f.entering, err = encodeEvent(ev.ID, "alert", ev.Type, ev.Alert); err != nil {
			return nil, err
		}
		if f.leaving, err = encodeEvent(ev.ID, "retract", ev.Type, ev.Alert); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// encodeEvent encodes one frame of type typ (alert, update, retract) for
// the log event with id seq and type logEvent about alert a.
func encodeEvent(seq, typ string, logEvent flashwire.EventType, a flashwire.Alert) (*frame, error) {
	msg := eventMessage{Seq: seq, Type: typ}
	if typ == "retract" {
		msg.ID = a.ID
	} else {
		msg.Alert = &wireAlert{
			ID: a.ID, Headline: a.Headline, Summary: a.Summary, URL: a.URL, ImageURL: a.ImageURL,
			Topics: nonNil(a.Topics), Regions: nonNil(a.Regions), Language: a.Language,
			Priority: string(a.Priority), PublishedAt: a.PublishedAt, UpdatedAt: a.UpdatedAt,
		}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", seq, err)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
	if err != nil {
		return nil, fmt.Errorf("prepare event %s: %w", seq, err)
	}
	event := map[string]flashwire.EventType{"alert": flashwire.Published, "update": flashwire.Updated, "retract": flashwire.Retracted}[typ]
	return &frame{
		kind:     frameEvent,
		event:    event,
		logEvent: logEvent,
		seq:      seq,
		alertID:  a.ID,
		attrs:    a.Attrs(),
		appended: flashwire.EventTime(seq),
		pm:       pm,
		sse:      sseEvent(seq, typ, body),
	}, nil
}

// wanter is a connection's filter.
type wanter interface {
	wants(a flashwire.Attrs, now time.Time) bool
}

// choose returns the frame of event frame f that goes to a connection
// whose filter is w, or nil when none does. An update goes as an update to
// a connection its previous version matched as well, as the alert itself
// to one that only its new version matches, and as a retraction to one
// that only its previous version matched: "matched before" is judged by
// the connection's filter now, against the targeting the log kept with
// the update. Every other event goes to the connections it matches.
func (f *frame) choose(w wanter, now time.Time) *frame {
	matches := w.wants(f.attrs, now)
	if f.previous == nil {
		if matches {
			return f
		}
		return nil
	}
	before := w.wants(*f.previous, now)
	switch {
	case matches && before:
		return f
	case matches:
		return f.entering
	case before:
		return f.leaving
	}
	return nil
}

// share makes f and its variants report to fo.
func (f *frame) share(fo *fanout) {
	f.fanout = fo
	if f.entering != nil {
		f.entering.fanout = fo
		f.leaving.fanout = fo
	}
}

// fanout gathers one event's delivery figures on this instance until every
// queued write has finished, then reports them once per channel.
type fanout struct {
	hub     *Hub
	alertID string
	// pending counts queued writes plus one held by fanOut itself.
	pending atomic.Int64
	mu      sync.Mutex
	tallies map[notifier.Channel]*notifier.Tally // guarded by mu
}

// finished notes the write of event frame f to client c in f's fan-out,
// if it has one (replayed frames have none).
func (f *frame) finished(c *client, ok bool, latency time.Duration) {
	f.fanout.finish(c.channel, c.id, f.seq, f.event, f.logEvent, ok, latency)
}

// finish notes one write of the log event seq of type event, told as told,
// to the client with id recipient of transport.
func (fo *fanout) finish(transport notifier.Channel, recipient, seq string, told, event flashwire.EventType, ok bool, latency time.Duration) {
	if fo == nil {
		return
	}
	fo.mu.Lock()
	if fo.tallies == nil {
		fo.tallies = map[notifier.Channel]*notifier.Tally{}
	}
	t := fo.tallies[transport]
	if t == nil {
		t = &notifier.Tally{}
		fo.tallies[transport] = t
	}
	if ok {
		t.Add(notifier.Delivered(told, event, recipient, seq, latency))
	} else {
		t.Failed++
	}
	fo.mu.Unlock()
	fo.release()
}

// skip drops a queued write that turned out to be a duplicate.
func (fo *fanout) skip() {
	if fo != nil {
		fo.release()
	}
}

func (fo *fanout) release() {
	if fo.pending.Add(-1) != 0 || fo.hub.stats == nil || fo.alertID == "" {
		return
	}
	fo.mu.Lock()
	tallies := fo.tallies
	fo.mu.Unlock()
	if len(tallies) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for ch, t := range tallies {
			if err := fo.hub.stats.Record(ctx, fo.alertID, ch, *t); err != nil {
				fo.hub.logger.Warn("cannot record live delivery figures", "alert_id", fo.alertID, "error", err.Error())
			}
		}
	}()
}

// sameAttrs reports whether two targetings are the same.
func sameAttrs(a, b flashwire.Attrs) bool {
	return a.Language == b.Language && a.Priority == b.Priority &&
		slices.Equal(a.Topics, b.Topics) && slices.Equal(a.Regions, b.Regions)
}

// sseEvent is one event of an SSE stream; an empty id sends no "id:" line,
// so the browser keeps its resume cursor.
func sseEvent(id, event string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(id)+len(event)+24)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
