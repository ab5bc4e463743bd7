// Package apierr owns Izwi's one HTTP error catalogue: the stable codes
// clients switch on, their statuses and default messages, the JSON body
// {"error":{"code","message","request_id"}}, and the request ID every error
// quotes. It is a leaf so that every HTTP-facing package (api, auth key
// handlers, limit, admin) answers errors in the same shape without importing
// the route table.
package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Code is a stable, documented error code clients can switch on.
type Code string

// The error catalogue. Every error response uses one of these codes, with
// the HTTP status and default message Lookup gives.
const (
	CodeBadRequest           Code = "bad_request"
	CodeUnauthenticated      Code = "unauthenticated"
	CodeCredentialsInURL     Code = "credentials_in_url"
	CodeForbidden            Code = "forbidden"
	CodeIPDenied             Code = "ip_denied"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeConflict             Code = "conflict"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeOutputTooLarge       Code = "output_too_large"
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeUnsupportedLanguage: the engine does not hear (or Izwi does not
	// translate) the language asked for; refused rather than ignored.
	CodeUnsupportedLanguage Code = "unsupported_language"
	// CodeUnsupportedOption: a documented option of a compatible API
	// (Deepgram's multichannel, ...) that Izwi does not implement,
	// refused rather than ignored.
	CodeUnsupportedOption Code = "unsupported_option"
	CodeUnprocessable     Code = "unprocessable"
	CodeRateLimited       Code = "rate_limited"
	CodeQuotaExceeded     Code = "quota_exceeded"
	CodeNotReady          Code = "not_ready"
	// CodeEngineBusy: every recognizer stream is in use (a capacity
	// refusal, answered within a second with Retry-After, never a hang).
	CodeEngineBusy Code = "engine_busy"
	// Chat upstreams (issue 7): a server Izwi forwards to failed.
	CodeUpstreamUnavailable Code = "upstream_unavailable"
	CodeUpstreamTimeout     Code = "upstream_timeout"
	CodeUpstreamError       Code = "upstream_error"
	CodeInternal            Code = "internal"
)

// Entry is one catalogue line.
type Entry struct {
	Status  int
	Message string
}

// Lookup returns code's status and default message; an unknown code is an
// internal error. It is a function so the table cannot change at run time.
func Lookup(c Code) Entry {
	switch c {
	case CodeBadRequest:
		return Entry{http.StatusBadRequest, "the request is malformed"}
	case CodeUnauthenticated:
		return Entry{http.StatusUnauthorized, "valid credentials are required"}
	case CodeCredentialsInURL:
		return Entry{http.StatusUnauthorized, "credentials must not be sent in the URL; use the Authorization header"}
	case CodeForbidden:
		return Entry{http.StatusForbidden, "the credentials lack the scope this route needs"}
	case CodeIPDenied:
		return Entry{http.StatusForbidden, "requests from this address are not allowed"}
	case CodeNotFound:
		return Entry{http.StatusNotFound, "no such resource"}
	case CodeMethodNotAllowed:
		return Entry{http.StatusMethodNotAllowed, "method not allowed for this resource"}
	case CodeConflict:
		return Entry{http.StatusConflict, "the resource is not in a state that allows this"}
	case CodePayloadTooLarge:
		return Entry{http.StatusRequestEntityTooLarge, "the request body is too large"}
	case CodeOutputTooLarge:
		return Entry{http.StatusRequestEntityTooLarge, "the answer this request asks for is larger than the server allows"}
	case CodeUnsupportedMediaType:
		return Entry{http.StatusUnsupportedMediaType, "the content does not match a supported type"}
	case CodeUnsupportedLanguage:
		return Entry{http.StatusBadRequest, "the engine does not hear the language asked for"}
	case CodeUnsupportedOption:
		return Entry{http.StatusBadRequest, "an option asked for is not supported"}
	case CodeUnprocessable:
		return Entry{http.StatusUnprocessableEntity, "the content was read but cannot be used"}
	case CodeRateLimited:
		return Entry{http.StatusTooManyRequests, "too many requests; retry after the time given"}
	case CodeQuotaExceeded:
		return Entry{http.StatusTooManyRequests, "quota exhausted; retry after the time given"}
	case CodeNotReady:
		return Entry{http.StatusServiceUnavailable, "the server is not ready"}
	case CodeEngineBusy:
		return Entry{http.StatusServiceUnavailable, "every recognizer is in use; retry after the time given"}
	case CodeUpstreamUnavailable:
		return Entry{http.StatusBadGateway, "the upstream server could not be reached"}
	case CodeUpstreamTimeout:
		return Entry{http.StatusGatewayTimeout, "the upstream server did not answer in time"}
	case CodeUpstreamError:
		return Entry{http.StatusBadGateway, "the upstream server failed"}
	default:
		return Entry{http.StatusInternalServerError, "internal error; quote the request_id when reporting it"}
	}
}

// Codes lists every catalogued code (for tests and docs).
func Codes() []Code {
	return []Code{CodeBadRequest, CodeUnauthenticated, CodeCredentialsInURL, CodeForbidden, CodeIPDenied,
		CodeNotFound, CodeMethodNotAllowed, CodeConflict, CodePayloadTooLarge, CodeOutputTooLarge, CodeUnsupportedMediaType,
		CodeUnsupportedLanguage, CodeUnsupportedOption,
		CodeUnprocessable, CodeRateLimited, CodeQuotaExceeded, CodeNotReady, CodeEngineBusy,
		CodeUpstreamUnavailable, CodeUpstreamTimeout, CodeUpstreamError, CodeInternal}
}

// Body is the one JSON shape of every error response.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of Body.
type Detail struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// Error is an error safe to show the caller: a catalogued code, an optional
// message replacing the default, and for 429s how long to wait. Packages
// that refuse requests (limits, IP rules) return it so the gateway answers
// with their code.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Message != "" {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code)
}

type ctxKey struct{}

// WithRequestID returns ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request ID ctx carries ("" if none).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Write writes code's status and the error body. msg, if not empty,
// replaces the catalogue message; it must be safe to show the caller.
func Write(w http.ResponseWriter, r *http.Request, code Code, msg string) {
	e := Lookup(code)
	if msg == "" {
		msg = e.Message
	}
	if e.Status == http.StatusInternalServerError {
		code = CodeInternal // an uncatalogued code never reaches a client
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="izwi"`)
	}
	id := RequestID(r.Context())
	if id == "" {
		// Behind another listener's request-ID middleware (the admin
		// console), the ID is already on the response.
		id = w.Header().Get("X-Request-Id")
	}
	JSON(w, e.Status, Body{Detail{Code: code, Message: msg, RequestID: id}})
}

// WriteErr writes err: an *Error keeps its code, message and Retry-After;
// anything else is an internal error whose text is not shown.
func WriteErr(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		Write(w, r, CodeInternal, "")
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	Write(w, r, e.Code, e.Message)
}

// JSON writes v as a JSON response with status and no-store caching.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DeepgramBody is Deepgram's error shape with the catalogue's inside, so
// Deepgram's SDKs and Izwi's own clients both read it.
type DeepgramBody struct {
	ErrCode   string `json:"err_code"`
	ErrMsg    string `json:"err_msg"`
	RequestID string `json:"request_id"`
	Error     Detail `json:"error"`
}

// WriteDeepgram answers a refusal on a Deepgram-compatible route
// (/v1/listen, /v1/speak): Deepgram's err_code/err_msg beside the
// catalogue's error object; msg "" takes the code's default message.
func WriteDeepgram(w http.ResponseWriter, r *http.Request, code Code, msg string) {
	e := Lookup(code)
	if msg == "" {
		msg = e.Message
	}
	id := RequestID(r.Context())
	if id == "" {
		id = w.Header().Get("X-Request-Id")
	}
	JSON(w, e.Status, DeepgramBody{ErrCode: deepgramCode(e.Status), ErrMsg: msg, RequestID: id,
		Error: Detail{Code: code, Message: msg, RequestID: id}})
}

// deepgramCode is Deepgram's err_code for an HTTP status.
func deepgramCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Bad Request"
	case http.StatusRequestEntityTooLarge:
		return "Payload Too Large"
	case http.StatusUnsupportedMediaType:
		return "Unsupported Media Type"
	case http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case http.StatusServiceUnavailable:
		return "Service Unavailable"
	}
	return strconv.Itoa(status)
}
