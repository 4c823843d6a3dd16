// Package flashwire is the vocabulary every Flashwire package shares: what
// an alert is (Alert, Priority, Attrs), what happened to one (Event,
// EventType, event ids), the rules its words follow (slugs, language tags,
// web links) and the kinds of error (InvalidError, ErrNotFound and the
// rest) that the HTTP layer turns into statuses in one place.
//
// It holds each rule once, so that the packages that need it cannot drift
// apart. It must never import anything but the standard library, and never
// do I/O: it has no Redis, no HTTP, no clock of its own.
package flashwire
