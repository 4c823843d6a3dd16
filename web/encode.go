package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"flashwire"
)

// maxBody is the largest JSON request body any handler accepts.
const maxBody = 64 << 10

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
// *flashwire.InvalidError naming every unknown top-level field at once, or the
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
		return flashwire.Invalid("body", "must hold a single JSON object")
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
	var bad flashwire.InvalidError
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
		return flashwire.Invalid("body", "is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return flashwire.Invalid(field, "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return flashwire.Invalid("body", "is not valid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return flashwire.Invalid("body", "is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return flashwire.Invalid("body", "ends in the middle of the JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return flashwire.Invalid(name, "is not a known field")
	}
	return flashwire.Invalid("body", "%s", err.Error())
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
