// Package strictjson owns the one strict reading of JSON that comes from
// outside: exactly one object, valid UTF-8, no duplicate member names at
// any depth (after unescaping: "\u0061lg" duplicates "alg"), no nesting
// deeper than MaxDepth, no unknown fields, nothing after it. encoding/json
// alone keeps the last duplicate, replaces invalid UTF-8 and ignores what
// follows the first value, which lets two readers disagree about a body.
// Every JSON request body and token goes through here. It is a leaf.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds object and array nesting.
const MaxDepth = 32

// CheckObject accepts exactly one JSON object in valid UTF-8 with no
// duplicate member names and no nesting deeper than MaxDepth.
func CheckObject(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	if err := checkObject(d, 1); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// Unmarshal is CheckObject, then decoding into v with unknown fields
// refused.
func Unmarshal(b []byte, v any) error {
	if err := CheckObject(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return Problem(err)
	}
	return nil
}

// Problem describes a decoding error without quoting the input.
func Problem(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q must be %s", clip(te.Field), te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", clip(strings.TrimPrefix(err.Error(), "json: unknown field ")))
	}
	return errors.New("malformed JSON")
}

func checkObject(d *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for {
		tok, err := d.Token()
		if err != nil {
			return errors.New("malformed JSON")
		}
		if tok == json.Delim('}') {
			return nil
		}
		name, ok := tok.(string)
		if !ok {
			return errors.New("malformed JSON")
		}
		if seen[name] {
			return fmt.Errorf("duplicate member %q", clip(name))
		}
		seen[name] = true
		if err := checkValue(d, depth); err != nil {
			return err
		}
	}
}

func checkValue(d *json.Decoder, depth int) error {
	tok, err := d.Token()
	if err != nil {
		return errors.New("malformed JSON")
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= MaxDepth {
		return errors.New("JSON nested too deeply")
	}
	switch delim {
	case '{':
		return checkObject(d, depth+1)
	case '[':
		for d.More() {
			if err := checkValue(d, depth+1); err != nil {
				return err
			}
		}
		if tok, err := d.Token(); err != nil || tok != json.Delim(']') {
			return errors.New("malformed JSON")
		}
		return nil
	}
	return errors.New("malformed JSON")
}

// clip keeps attacker-chosen strings short in errors and logs.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// ErrEmpty is DecodeBody's error for an empty (or all-space) body.
var ErrEmpty = errors.New("empty body")

// DecodeBody reads r's body, at most max bytes, and Unmarshals it into v.
// Over max the error wraps *http.MaxBytesError (answer 413); an empty body
// is ErrEmpty; anything else is safe to show the caller.
func DecodeBody(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errors.New("the body could not be read")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return ErrEmpty
	}
	return Unmarshal(b, v)
}
