package api

import (
	"encoding/json"
	"net/http"
)

// Code is a stable, documented error code clients can switch on.
type Code string

// The error catalogue. Every error response uses one of these codes, with
// the HTTP status and default message catalogue gives.
const (
	CodeBadRequest       Code = "bad_request"
	CodeNotFound         Code = "not_found"
	CodeMethodNotAllowed Code = "method_not_allowed"
	CodeNotReady         Code = "not_ready"
	CodeInternal         Code = "internal"
)

// entry is one catalogue line.
type entry struct {
	Status  int
	Message string
}

// catalogue maps each code to its status and default message. It is a
// function so the table cannot be modified at run time.
func catalogue(c Code) entry {
	switch c {
	case CodeBadRequest:
		return entry{http.StatusBadRequest, "the request is malformed"}
	case CodeNotFound:
		return entry{http.StatusNotFound, "no such resource"}
	case CodeMethodNotAllowed:
		return entry{http.StatusMethodNotAllowed, "method not allowed for this resource"}
	case CodeNotReady:
		return entry{http.StatusServiceUnavailable, "the server is not ready"}
	default:
		return entry{http.StatusInternalServerError, "internal error; quote the request_id when reporting it"}
	}
}

// Codes lists every catalogued code (for tests and docs).
func Codes() []Code {
	return []Code{CodeBadRequest, CodeNotFound, CodeMethodNotAllowed, CodeNotReady, CodeInternal}
}

// ErrorBody is the one JSON shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// writeError writes code's status and the error body. msg, if not empty,
// replaces the catalogue message; it must be safe to show the caller.
func writeError(w http.ResponseWriter, r *http.Request, code Code, msg string) {
	e := catalogue(code)
	if msg == "" {
		msg = e.Message
	}
	if e.Status == http.StatusInternalServerError {
		code = CodeInternal // an uncatalogued code never reaches a client
	}
	writeJSON(w, e.Status, ErrorBody{ErrorDetail{Code: code, Message: msg, RequestID: RequestID(r.Context())}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
