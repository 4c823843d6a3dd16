package flashwire

import (
	"strconv"
	"strings"
	"time"
)

// EventType names what happened to an alert. The names are the webhook
// event types.
type EventType string

// The event types.
const (
	Published EventType = "alert.published"
	Updated   EventType = "alert.updated"
	Retracted EventType = "alert.retracted"
)

// EventTypes are all event types, in the order they are listed.
var EventTypes = []EventType{Published, Updated, Retracted}

// Event is one entry of the alert log.
type Event struct {
	// ID is the event's position in the alert log (see ValidEventID);
	// readers resume after it. A published event's ID is also its alert's
	// ID.
	ID    string
	Type  EventType
	Alert Alert
	// Previous is, for an Updated event, the targeting of the version it
	// replaced, kept in the log with the event: who the alert was for
	// before. Nil for other events and for updates logged without it.
	Previous *Attrs
}

// An event id is "MS-SEQ": the milliseconds since the Unix epoch at which the
// event entered the alert log and a sequence number within that
// millisecond, both decimal (the id of a Redis Stream entry). Ids only grow:
// they order events, and tell when each entered the log.

// ValidEventID reports whether s is an event id.
func ValidEventID(s string) bool {
	_, _, ok := splitEventID(s)
	return ok
}

// CompareEventIDs orders two event ids as strings.Compare orders text: -1
// when a came first. Ids that are not valid order as "0-0".
func CompareEventIDs(a, b string) int {
	am, as, _ := splitEventID(a)
	bm, bs, _ := splitEventID(b)
	if am != bm {
		return cmpUint(am, bm)
	}
	return cmpUint(as, bs)
}

// EventTime returns when the event with the given id entered the alert
// log, in UTC, or the zero time for an id that is not valid.
func EventTime(id string) time.Time {
	ms, _, ok := splitEventID(id)
	if !ok || ms > 1<<62 {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func splitEventID(s string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}
