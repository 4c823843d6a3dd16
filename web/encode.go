package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
// *flashwire.InvalidError naming every field at fault by its path
// ("quiet_hours.start"), or "body" when the body as a whole is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return decodeError(err)
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes body, which must hold one JSON object, into v, a
// pointer to a struct. Before anything is decoded it names, by path,
// every string that is not valid UTF-8 (encoding/json would silently
// replace it), every key v has no field for, and every time that is not
// RFC 3339, so one answer lists them all.
func decodeJSON(body []byte, v any) error {
	var raw json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return flashwire.Invalid("body", "must hold a single JSON object")
	}
	if raw[0] != '{' {
		return flashwire.Invalid("body", "must be a JSON object")
	}
	var bad flashwire.InvalidError
	checkText(&bad, raw)
	checkShape(&bad, "", raw, reflect.TypeOf(v))
	if err := bad.Err(); err != nil {
		return err
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// checkText names every string of raw that encoding/json would change
// without a word: invalid UTF-8 bytes and escaped lone surrogates
// ("\ud800") both become U+FFFD. It walks the tokens, keeping the path to
// each, and compares each token's bytes in raw with what they decode to.
func checkText(bad *flashwire.InvalidError, raw []byte) {
	type level struct {
		path    string
		object  bool
		key     string
		wantKey bool
	}
	var stack []level
	valuePath := func() string {
		if len(stack) == 0 {
			return "body"
		}
		top := stack[len(stack)-1]
		if top.object {
			return joinPath(top.path, top.key)
		}
		return top.path
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return // the end, or bad JSON that decoding names
		}
		seg := raw[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				path := valuePath()
				if len(stack) == 0 {
					path = ""
				}
				stack = append(stack, level{path: path, object: t == '{', wantKey: t == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if len(stack) > 0 && stack[len(stack)-1].wantKey {
				top := &stack[len(stack)-1]
				top.key, top.wantKey = t, false
				if replaced(seg, t) {
					bad.Add(joinPath(top.path, t), "is a name that is not valid UTF-8")
				}
				continue
			}
			if replaced(seg, t) {
				bad.Add(valuePath(), "is not valid UTF-8 text")
			}
		}
		// A value ended: an object now wants its next key.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// replaced reports whether the JSON string token seg decoded to s with
// a U+FFFD that seg does not spell: a replaced invalid byte or surrogate.
func replaced(seg []byte, s string) bool {
	if !utf8.Valid(seg) {
		return true
	}
	n := strings.Count(s, "\uFFFD")
	if n == 0 {
		return false
	}
	spelled := bytes.Count(seg, []byte("\uFFFD")) + strings.Count(strings.ToLower(string(seg)), `\ufffd`)
	return n > spelled
}

// joinPath names the member key of the object at path; an empty key is
// named "" so that every field named has a name.
func joinPath(path, key string) string {
	if key == "" {
		key = `""`
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var timeType = reflect.TypeFor[time.Time]()

// checkShape walks the JSON value raw along the Go type t and names, by
// path, every object key t has no field for and every time (a time.Time
// field) that is not RFC 3339. Values of the wrong JSON kind are left to
// the decoder, which names them by path too.
func checkShape(bad *flashwire.InvalidError, path string, raw json.RawMessage, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == timeType {
			var tm time.Time
			if json.Unmarshal(raw, &tm) != nil {
				bad.Add(path, "must be an RFC 3339 time such as 2026-11-27T08:00:00Z")
			}
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				bad.Add(joinPath(path, k), "is not a known field")
				continue
			}
			checkShape(bad, joinPath(path, k), obj[k], ft)
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return
		}
		for _, item := range items {
			checkShape(bad, path, item, t.Elem())
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			checkShape(bad, joinPath(path, k), obj[k], t.Elem())
		}
	}
}

// jsonFields returns the types of a struct's fields by their lower-cased
// JSON names, embedded structs included, as encoding/json matches them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			maps.Copy(out, jsonFields(ft))
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
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
		return flashwire.Invalid(joinPath("", name), "is not a known field")
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
