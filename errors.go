package flashwire

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The kinds of error. Every error a Flashwire package returns for something
// other than an internal fault wraps one of them (errors.Is finds it), so
// that the HTTP layer chooses a status from the kind alone, in one place.
// Any other error is an internal fault.
var (
	// ErrInvalid: the input is wrong; an *InvalidError names each field.
	ErrInvalid = errors.New("invalid input")
	// ErrUnauthorized: no valid credential was given.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the credential does not allow this.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: nothing has the requested id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state (already
	// retracted, sent already, being done elsewhere).
	ErrConflict = errors.New("conflict")
	// ErrTooMany: too many requests, or too soon; RetryAfter may say when
	// to try again.
	ErrTooMany = errors.New("too many requests")
	// ErrUnavailable: a part the request needs is not running or not
	// reachable now; RetryAfter may say when to try again.
	ErrUnavailable = errors.New("unavailable")
)

// Error is an error of one kind (ErrNotFound and the others) with its own
// message.
type Error struct {
	Kind    error
	Message string
	// Retry, when positive, is how long the caller should wait before
	// trying again (for ErrTooMany and ErrUnavailable).
	Retry time.Duration
}

// NewError returns an error of the given kind that reads as the formatted
// message.
func NewError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Message }

// Unwrap makes errors.Is(err, e.Kind) hold.
func (e *Error) Unwrap() error { return e.Kind }

// Wait returns e.Retry.
func (e *Error) Wait() time.Duration { return e.Retry }

// RetryAfter returns how long err says to wait before trying again, found
// on the first error of its chain that knows (a Wait method with a positive
// answer), and false when none does.
func RetryAfter(err error) (time.Duration, bool) {
	for err != nil {
		if w, ok := err.(interface{ Wait() time.Duration }); ok && w.Wait() > 0 {
			return w.Wait(), true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if d, ok := RetryAfter(e); ok {
					return d, true
				}
			}
			return 0, false
		default:
			return 0, false
		}
	}
	return 0, false
}

// FieldError is one problem with one field of the input. Field is the
// field's path as the input names it ("headline", "quiet_hours.start").
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// InvalidError lists what is wrong with an input, field by field, so that
// one answer names every field at fault. The zero value is empty and ready;
// Err turns it into an error once every check has run.
type InvalidError struct {
	Fields []FieldError
}

// Invalid returns an error for a single field problem.
func Invalid(field, format string, args ...any) error {
	var e InvalidError
	e.Add(field, format, args...)
	return &e
}

// Add records that field has a problem, described with a format string.
func (e *InvalidError) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// RequiredText records that field, holding s, is empty, is longer than max
// characters, or is not valid UTF-8.
func (e *InvalidError) RequiredText(field, s string, max int) {
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		e.Add(field, "is required")
	case n > max:
		e.Add(field, "is %d characters; at most %d allowed", n, max)
	}
	if !utf8.ValidString(s) {
		e.Add(field, "is not valid UTF-8")
	}
}

// Err returns e as an error, or nil when no problem was recorded.
func (e *InvalidError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Error reads as "invalid input: headline is required; url must be ...".
func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Problem
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }
