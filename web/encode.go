package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"flashwire/internal/invalid"
	"flashwire/notifier"
	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
	"flashwire/subscribers"
)

// maxBody is the largest JSON request body any handler accepts.
const maxBody = 64 << 10

var (
	errUnauthorized = errors.New("a valid token is required: send Authorization: Bearer TOKEN")
	errForbidden    = errors.New("this token's role may not do that")
)

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads one JSON object from r's body into v, refusing unknown
// fields, trailing data and bodies over maxBody. Its errors are
// *invalid.Error naming every unknown top-level field at once, or the
// field at fault.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	var raw json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return decodeError(err)
		}
		return invalid.New("body", "must hold a single JSON object")
	}
	if err := unknownFields(raw, v); err != nil {
		return err
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// unknownFields names every top-level key of the object raw that v's
// struct does not have, so one 400 lists them all rather than the first.
func unknownFields(raw json.RawMessage, v any) error {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return nil // not an object: the strict decode says what is wrong
	}
	known := jsonFieldNames(reflect.TypeOf(v))
	if known == nil {
		return nil
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		if !known[strings.ToLower(k)] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var bad invalid.Error
	for _, k := range names {
		bad.Add(k, "is not a known field")
	}
	return bad.Err()
}

// jsonFieldNames returns the lower-cased JSON names of a struct's fields,
// embedded structs included, as encoding/json matches them; nil when t is
// not a struct.
func jsonFieldNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for n := range jsonFieldNames(f.Type) {
				out[n] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = true
	}
	return out
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return invalid.New("body", "is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return invalid.New(field, "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return invalid.New("body", "is not valid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return invalid.New("body", "is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid.New("body", "ends in the middle of the JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid.New(name, "is not a known field")
	}
	return invalid.New("body", "%s", err.Error())
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}

// errorBody is every error response.
type errorBody struct {
	Error  string          `json:"error"`
	Fields []invalid.Field `json:"fields,omitempty"`
	// Existing is the alert a 409 duplicate refers to.
	Existing *notifier.Alert `json:"existing,omitempty"`
	// RetryAfter repeats a 429's Retry-After header, in seconds.
	RetryAfter int64 `json:"retry_after,omitempty"`
}

// errorStatus chooses the HTTP status for err. It is the one place that
// maps the packages' errors to HTTP.
func errorStatus(err error) int {
	var bad *invalid.Error
	switch {
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden):
		return http.StatusForbidden
	case errors.Is(err, notifier.ErrNotFound), errors.Is(err, errTokenNotFound):
		return http.StatusNotFound
	case errors.Is(err, subscribers.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, notifier.ErrRetracted), errors.Is(err, notifier.ErrDuplicate), errors.Is(err, errIdempotencyInProgress):
		return http.StatusConflict
	case errors.Is(err, notifier.ErrTooSoon):
		return http.StatusTooManyRequests
	case errors.Is(err, notifier.ErrNotScheduled):
		return http.StatusNotFound
	case errors.Is(err, errCSRF):
		return http.StatusForbidden
	case errors.Is(err, errIdempotencyMismatch):
		return http.StatusUnprocessableEntity
	case errors.Is(err, errCrossOrigin):
		return http.StatusForbidden
	case errors.Is(err, errTooManyFromIP):
		return http.StatusTooManyRequests
	case errors.Is(err, errHubFull), errors.Is(err, errHubClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, watch.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, watch.ErrNotHeld), errors.Is(err, watch.ErrLeased):
		return http.StatusConflict
	case errors.Is(err, errNoWatcher):
		return http.StatusServiceUnavailable
	case errors.Is(err, webhook.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, webhook.ErrNoSecret):
		return http.StatusConflict
	case errors.Is(err, errNoWebhooks):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers r with err translated to a status. 5xx details are
// logged with the request id and never sent.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	body := errorBody{Error: err.Error()}
	var bad *invalid.Error
	switch {
	case status >= 500:
		logger(r.Context()).Error("request failed", slog.String("error", err.Error()))
		body.Error = fmt.Sprintf("internal error; quote request id %s to the operator", requestID(r.Context()))
	case errors.As(err, &bad):
		body.Error = "invalid request"
		body.Fields = bad.Fields
	case status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="flashwire"`)
	}
	var dup *notifier.DuplicateError
	var soon *notifier.TooSoonError
	switch {
	case errors.As(err, &dup) && dup.Existing.ID != "":
		body.Existing = &dup.Existing
	case errors.As(err, &soon):
		secs := int64(math.Ceil(soon.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		body.RetryAfter = secs
	}
	encode(w, status, body)
}
