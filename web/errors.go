package web

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"flashwire"
	"flashwire/notifier"
)

var (
	errUnauthorized = flashwire.NewError(flashwire.ErrUnauthorized, "a valid token is required: send Authorization: Bearer TOKEN")
	errForbidden    = flashwire.NewError(flashwire.ErrForbidden, "this token's role may not do that")
)

// errorBody is every error response.
type errorBody struct {
	Error  string                 `json:"error"`
	Fields []flashwire.FieldError `json:"fields,omitempty"`
	// Existing is the alert a 409 duplicate refers to.
	Existing *flashwire.Alert `json:"existing,omitempty"`
	// RetryAfter repeats a 429's or 503's Retry-After header, in seconds.
	RetryAfter int64 `json:"retry_after,omitempty"`
}

// errorStatus chooses the HTTP status for err from its kind (see
// flashwire.ErrNotFound and the others). It is the one place that maps
// errors to HTTP; an error of no kind is an internal fault.
func errorStatus(err error) int {
	switch {
	case errors.Is(err, errIdempotencyMismatch):
		// Well-formed, but not what the key was first used for.
		return http.StatusUnprocessableEntity
	case errors.Is(err, flashwire.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, flashwire.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, flashwire.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, flashwire.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, flashwire.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, flashwire.ErrTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, flashwire.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers r with err translated to a status. Internal faults
// are logged with the request id and never described to the client.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	body := errorBody{Error: err.Error()}
	var bad *flashwire.InvalidError
	switch {
	case status == http.StatusInternalServerError:
		logger(r.Context()).Error("request failed", slog.String("error", err.Error()))
		body.Error = fmt.Sprintf("internal error; quote request id %s to the operator", requestID(r.Context()))
	case errors.As(err, &bad):
		body.Error = "invalid request"
		body.Fields = bad.Fields
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="flashwire"`)
	}
	if wait, ok := flashwire.RetryAfter(err); ok {
		secs := int64(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		body.RetryAfter = secs
	}
	var dup *notifier.DuplicateError
	if errors.As(err, &dup) && dup.Existing.ID != "" {
		body.Existing = &dup.Existing
	}
	encode(w, status, body)
}
