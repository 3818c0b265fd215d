package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// maxBody bounds a request document.
const maxBody = 1 << 20

// bodyError is a request document that could not be decoded.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

// decode reads exactly one JSON object into v, refusing unknown fields, and
// turns decoder errors into messages that name the field.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return &bodyError{"body: unexpected data after the JSON object"}
		}
		if _, err := dec.Token(); err != io.EOF {
			return &bodyError{"body: unexpected data after the JSON object"}
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var big *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return &bodyError{"body: empty; want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &bodyError{"body: malformed JSON: unexpected end of input"}
	case errors.As(err, &syn):
		return &bodyError{fmt.Sprintf("body: malformed JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &bodyError{fmt.Sprintf("body: want a JSON object, got %s", typ.Value)}
		}
		return &bodyError{fmt.Sprintf("%s: want %s, got %s", field, jsonKind(typ.Type), typ.Value)}
	case errors.As(err, &big):
		return &bodyError{fmt.Sprintf("body: larger than %d bytes", maxBody)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &bodyError{fmt.Sprintf("unknown field %s; allowed: %s", name, strings.Join(jsonFields(v), ", "))}
	}
	return &bodyError{"body: " + err.Error()}
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a " + t.Kind().String()
}

// jsonFields lists the JSON names of a struct's fields.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
