package admin

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/api/apierr"
)

// The console's forms have a few known string fields. Both browsers (form
// posts) and scripts (JSON) send them; parseForm reads either into one map.
var errForm = errors.New("admin: malformed form")

// formFields are the only fields any console form has; others are refused
// so a typo cannot silently drop a value.
func formField(name string) bool {
	switch name {
	case "name", "password", "current_password", "new_password", "code", "recovery_code",
		"token", "role", "csrf", "disabled",
		"label", "viewer_mode", "viewer_password", "vocabulary", "keep_transcript", "action",
		"expires_in", "rps", "max_sessions", "audio_minutes_per_day", "public_url",
		"kind", "time_zone", "date", "start", "stop", "grace", "source",
		"url", "credentials", "format", "lang", "delay",
		"day_Sun", "day_Mon", "day_Tue", "day_Wed", "day_Thu", "day_Fri", "day_Sat":
		return true
	}
	for _, s := range KeyScopes {
		if name == "scope_"+s {
			return true
		}
	}
	return false
}

// maxField bounds one field (a password may be up to MaxPasswordLen code
// points, at most 4 bytes each).
const maxField = 4 * MaxPasswordLen

// parseForm decodes a urlencoded or JSON body (contentType as sent) into
// field → value. Each field appears at most once; values are valid UTF-8
// strings (JSON booleans are accepted for "disabled").
func parseForm(contentType string, body []byte) (map[string]string, error) {
	if len(body) > maxBody {
		return nil, errForm
	}
	out := map[string]string{}
	if len(body) == 0 {
		return out, nil // a bare POST (logout) carries no fields
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errForm
	}
	add := func(k, v string) error {
		if !formField(k) || len(v) > maxField || !utf8.ValidString(v) {
			return errForm
		}
		if _, dup := out[k]; dup {
			return errForm
		}
		out[k] = v
		return nil
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errForm
		}
		for k, vs := range vals {
			if len(vs) != 1 {
				return nil, errForm
			}
			if err := add(k, vs[0]); err != nil {
				return nil, err
			}
		}
	case "application/json":
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil || raw == nil {
			return nil, errForm
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errForm // trailing data
		}
		for k, v := range raw {
			var s string
			switch v := v.(type) {
			case string:
				s = v
			case bool:
				if k != "disabled" {
					return nil, errForm
				}
				s = map[bool]string{true: "true", false: "false"}[v]
			default:
				return nil, errForm
			}
			if err := add(k, s); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errForm
	}
	return out, nil
}

// readForm reads and parses r's body (already bounded by guard).
func readForm(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errForm
	}
	return parseForm(r.Header.Get("Content-Type"), body)
}

// isForm reports a browser form post (HTML answers) rather than JSON.
func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// wantsHTML reports whether to answer with a page rather than JSON.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return isForm(r)
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeError answers with the one JSON error shape of the public API. The
// console's codes (csrf, mfa_required, weak_password, ...) are its own; they
// share the shape and the writer, not the public catalogue.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if msg == "" {
		msg = "internal error; quote the request_id when reporting it"
	}
	apierr.JSON(w, status, apierr.Body{Error: apierr.Detail{Code: apierr.Code(code), Message: msg, RequestID: requestID(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.JSON(w, status, v) }
