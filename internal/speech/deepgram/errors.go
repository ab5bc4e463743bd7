package deepgram

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Reasons an Error gives (the same words a chain's switch events use).
const (
	ReasonStall       = "stall"        // no answer in time
	ReasonReset       = "reset"        // connection refused, reset or closed
	ReasonTLS         = "tls"          // certificate or handshake failure
	ReasonAuth        = "auth"         // 401/403, or no key to send
	ReasonRateLimited = "rate_limited" // 429
	ReasonServerError = "server_error" // 5xx, 1011, or a malformed answer
	ReasonRejected    = "rejected"     // another 4xx at the handshake (bad settings)
	ReasonBadAudio    = "bad_audio"    // Deepgram could not decode the audio (1008)
)

// Error is a failure talking to Deepgram. It wraps speech.ErrUnavailable,
// or speech.ErrBadAudio for ReasonBadAudio, and the underlying error. Its
// text names the operation, reason and status, never the key or a body.
type Error struct {
	Op     string // "connect", "send", "receive", "flush", "transcribe"
	Reason string
	Status int // HTTP status or WebSocket close code, 0 if none
	Err    error
}

func (e *Error) Error() string {
	s := "deepgram: " + e.Op + ": " + e.Reason
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d)", e.Status)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the speech sentinel and the cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	kind := speech.ErrUnavailable
	if e.Reason == ReasonBadAudio {
		kind = speech.ErrBadAudio
	}
	return []error{kind, e.Err}
}

// FailoverReason is the reason a chain reports when it switches away.
func (e *Error) FailoverReason() string { return e.Reason }

// statusError classifies a refused handshake or file request.
func statusError(op string, status int) *Error {
	e := &Error{Op: op, Status: status, Reason: ReasonRejected}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Reason = ReasonAuth
	case status == http.StatusTooManyRequests:
		e.Reason = ReasonRateLimited
	case status >= 500:
		e.Reason = ReasonServerError
	}
	return e
}

// classify turns a transport error into an *Error, or into the caller's
// own context error when the caller gave up (that is not the engine's
// fault, so it must not read as ErrUnavailable).
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("deepgram: %s: %w", op, ctx.Err())
	}
	// A *url.Error's text holds the request URL, whose query carries the
	// session's hotwords: keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &Error{Op: op, Reason: ReasonReset, Err: err}
	var (
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr), errors.As(err, &alertErr):
		e.Reason = ReasonTLS
	case errors.Is(err, context.DeadlineExceeded):
		e.Reason = ReasonStall
	}
	switch code := websocket.CloseStatus(err); code {
	case -1:
	case websocket.StatusPolicyViolation: // DATA-0000: payload not audio
		e.Reason, e.Status = ReasonBadAudio, int(code)
	case websocket.StatusInternalError, websocket.StatusTryAgainLater, websocket.StatusBadGateway:
		e.Reason, e.Status = ReasonServerError, int(code)
	default:
		e.Status = int(code)
	}
	return e
}
