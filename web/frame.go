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
	attrs   flashwire.Attrs
	// before holds the alert's earlier targetings that differ from attrs,
	// when an update changed it: readers who got the alert under an old
	// targeting get its corrections and retraction too.
	before []flashwire.Attrs
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

// newEventFrame encodes ev once for both transports.
func newEventFrame(ev flashwire.Event) (*frame, error) {
	msg := eventMessage{Seq: ev.ID}
	a := ev.Alert
	switch ev.Type {
	case flashwire.Published:
		msg.Type = "alert"
	case flashwire.Updated:
		msg.Type = "update"
	case flashwire.Retracted:
		msg.Type, msg.ID = "retract", a.ID
	default:
		return nil, fmt.Errorf("event %s has unknown type %q", ev.ID, ev.Type)
	}
	if msg.Type != "retract" {
		msg.Alert = &wireAlert{
			ID: a.ID, Headline: a.Headline, Summary: a.Summary, URL: a.URL, ImageURL: a.ImageURL,
			Topics: nonNil(a.Topics), Regions: nonNil(a.Regions), Language: a.Language,
			Priority: string(a.Priority), PublishedAt: a.PublishedAt, UpdatedAt: a.UpdatedAt,
		}
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, body)
	if err != nil {
		return nil, fmt.Errorf("prepare event %s: %w", ev.ID, err)
	}
	return &frame{
		kind:     frameEvent,
		seq:      ev.ID,
		alertID:  a.ID,
		attrs:    a.Attrs(),
		appended: flashwire.EventTime(ev.ID),
		pm:       pm,
		sse:      sseEvent(ev.ID, msg.Type, body),
	}, nil
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

// finish notes one write of the event to a client of transport.
func (fo *fanout) finish(transport notifier.Channel, ok bool, latency time.Duration) {
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
		t.Reached++
		t.Latencies = append(t.Latencies, latency)
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

// targeting remembers the targeting of recent alerts, so a correction
// that changes it still reaches those who got the alert.
type targeting struct {
	byID  map[string][]flashwire.Attrs // distinct targetings, oldest first
	order []string                     // oldest first; at most keepTargeting
}

// keepTargeting is how many alerts targeting remembers: as many as the
// alert log keeps at least.
const keepTargeting = notifier.KeepCount

// note sets f.before from the alert's earlier events and remembers f's
// targeting. Only one goroutine may use a targeting.
func (t *targeting) note(f *frame) {
	if t.byID == nil {
		t.byID = map[string][]flashwire.Attrs{}
	}
	known, ok := t.byID[f.alertID]
	if !ok {
		if len(t.order) >= keepTargeting {
			delete(t.byID, t.order[0])
			t.order = t.order[1:]
		}
		t.order = append(t.order, f.alertID)
	}
	current := false
	for _, a := range known {
		if sameAttrs(a, f.attrs) {
			current = true
		} else {
			f.before = append(f.before, a)
		}
	}
	if !current {
		t.byID[f.alertID] = append(known, f.attrs)
	}
}

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
