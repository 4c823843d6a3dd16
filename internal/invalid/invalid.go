// Package invalid collects what is wrong with a request, field by field, so
// that the HTTP layer can answer one 400 naming every field at fault.
//
// It must never know about HTTP: packages that validate input build an
// Error and return it; web turns it into a response.
package invalid

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Field is one problem with one field of the input.
type Field struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error is a list of field problems. The zero value is empty and ready.
type Error struct {
	Fields []Field
}

// Add records that field has a problem, described with a format string.
func (e *Error) Add(field, format string, args ...any) {
	e.Fields = append(e.Fields, Field{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// RequiredText records that field, holding s, is empty, is longer than max
// characters, or is not valid UTF-8.
func (e *Error) RequiredText(field, s string, max int) {
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
func (e *Error) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Error reads as "invalid input: headline is required; url must be http or https".
func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Problem
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// New returns an error for a single field problem.
func New(field, format string, args ...any) error {
	var e Error
	e.Add(field, format, args...)
	return &e
}
