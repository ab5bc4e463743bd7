package limit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// Middleware enforces, for an authenticated request, the principal's own IP
// rules (403 ip_denied) and request rate (429 rate_limited with
// Retry-After), and counts the request. It belongs after authentication and
// the scope check; a request without a principal (a public route) passes
// untouched, because authentication, not rate limiting, guards the others.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || p.Subject == "" {
			next.ServeHTTP(w, r)
			return
		}
		if err := l.admit(r, p); err != nil {
			l.WriteLimitError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errIPDenied marks a per-key IP refusal inside admit.
var errIPDenied = errors.New("limit: client address not allowed for this credential")

// admit checks the per-key IP rules, then admits the request as Allow does.
func (l *Limiter) admit(r *http.Request, p auth.Principal) error {
	return l.allow(r.Context(), p, func(s *subject) error {
		if err := netpolicy.CheckRequest(r, s.ov.IP); err != nil {
			return errIPDenied
		}
		return nil
	})
}

// WriteLimitError writes err as an API error: *Error as 429 with
// Retry-After and its code, a per-key IP refusal as 403 ip_denied, anything
// else (a failed resolver or database) as 500 internal, logged by subject
// only.
func (l *Limiter) WriteLimitError(w http.ResponseWriter, r *http.Request, err error) {
	var le *Error
	switch {
	case errors.As(err, &le):
		w.Header().Set("Retry-After", strconv.FormatInt(le.RetryAfterSeconds(), 10))
		msg := "request rate limit reached; retry after the Retry-After seconds"
		if le.Code == CodeQuotaExceeded {
			msg = "quota " + le.Limit + " exhausted; retry after the Retry-After seconds"
		}
		l.opts.WriteError(w, r, http.StatusTooManyRequests, le.Code, msg)
	case errors.Is(err, errIPDenied):
		l.opts.WriteError(w, r, http.StatusForbidden, CodeIPDenied, "requests from this address are not allowed for this credential")
	default:
		l.opts.Logger.Error("limit check failed", "err", err, "request_id", w.Header().Get("X-Request-Id"))
		l.opts.WriteError(w, r, http.StatusInternalServerError, "internal", "internal error; quote the request_id when reporting it")
	}
}

// UsageHandler serves GET /v1/usage: the calling principal's own usage
// today and its effective limits (0 = unlimited). It reads only the
// principal in the request context, so no parameter can name another
// subject. Access: any authenticated principal.
func (l *Limiter) UsageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || p.Subject == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			l.opts.WriteError(w, r, http.StatusUnauthorized, "unauthenticated", "credentials are required")
			return
		}
		u, err := l.Usage(r.Context(), p)
		if err != nil {
			l.WriteLimitError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_ = json.NewEncoder(w).Encode(u)
	})
}

type sessionKey struct{}

// SessionFrom returns the session HoldSession holds for this request.
func SessionFrom(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(*Session)
	return s, ok
}

// HoldSession wraps a long-lived handler (a live WebSocket, a streaming
// transcription): it takes one of the principal's concurrent-session slots
// before the handler runs, refusing with 429 quota_exceeded when none is
// free, and releases it on every exit path (return, error, panic, client
// gone) because the release is deferred here, not left to the handler. The
// handler finds the slot with SessionFrom to charge audio. Put it after
// authentication; a request without a principal is refused with 401.
func (l *Limiter) HoldSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok || p.Subject == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			l.opts.WriteError(w, r, http.StatusUnauthorized, "unauthenticated", "credentials are required")
			return
		}
		sess, err := l.Acquire(r.Context(), p)
		if err != nil {
			l.WriteLimitError(w, r, err)
			return
		}
		defer sess.Release()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}
