package ticket

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
)

// maxBody bounds a POST /v1/tickets body.
const maxBody = 4 << 10

// Handler serves POST /v1/tickets. It runs behind the authentication
// middleware (the caller is an API key, JWT or admin principal) and issues a
// ticket for a scope the caller holds.
type Handler struct {
	Issuer *Issuer
	// RequestID reads the request id for error bodies (api.RequestID).
	RequestID func(ctx context.Context) string
	// Authorize, when set, decides whether p may have scope on sessionID
	// (object-level check: one key cannot watch another's session). The live
	// session layer (issue 4) supplies it; an error refuses with 404, so a
	// caller cannot probe which sessions exist.
	Authorize func(ctx context.Context, p auth.Principal, sessionID string, scope auth.Scope) error
	// Audit, when set, records each ticket issued; if recording fails the
	// ticket is not handed out.
	Audit  audit.Recorder
	Logger *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// Request is the POST /v1/tickets body.
type Request struct {
	SessionID string `json:"session_id"`
	Scope     string `json:"scope"`
	Origin    string `json:"origin"`
}

// Response is the POST /v1/tickets reply.
type Response struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		h.fail(w, r, http.StatusUnauthorized, "unauthorized", "authentication required")
		return
	}
	if p.Kind == auth.KindTicket {
		h.fail(w, r, http.StatusForbidden, "forbidden", "a ticket cannot be used to obtain tickets")
		return
	}
	var req Request
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.fail(w, r, http.StatusBadRequest, "bad_request", "body must be JSON {session_id, scope, origin}")
		return
	}
	if dec.More() {
		h.fail(w, r, http.StatusBadRequest, "bad_request", "body must be one JSON object")
		return
	}
	scope := auth.Scope(req.Scope)
	if scope != auth.ScopeLiveRead && scope != auth.ScopeLiveWrite {
		h.fail(w, r, http.StatusBadRequest, "bad_request", "scope must be live.read or live.write")
		return
	}
	if !ValidSessionID(req.SessionID) {
		h.fail(w, r, http.StatusBadRequest, "bad_request", "session_id must be 1-128 characters of A-Z a-z 0-9 . _ -")
		return
	}
	if !p.Has(scope) {
		h.fail(w, r, http.StatusForbidden, "forbidden", "the caller does not hold scope "+string(scope))
		return
	}
	if h.Authorize != nil {
		if err := h.Authorize(r.Context(), p, req.SessionID, scope); err != nil {
			h.fail(w, r, http.StatusNotFound, "not_found", "no such session")
			return
		}
	}
	iss, err := h.Issuer.Issue(r.Context(), Grant{Subject: p.Subject, SessionID: req.SessionID, Scope: scope, Origin: req.Origin})
	switch {
	case errors.Is(err, ErrBadGrant):
		h.fail(w, r, http.StatusBadRequest, "bad_request", "origin must be one of jwt.tickets.allowed_origins")
		return
	case errors.Is(err, ErrFull):
		w.Header().Set("Retry-After", "1")
		h.fail(w, r, http.StatusTooManyRequests, "rate_limited", "too many outstanding tickets; retry shortly")
		return
	case err != nil:
		h.fail(w, r, http.StatusInternalServerError, "internal", "internal error; quote the request_id when reporting it")
		return
	}
	if h.Audit != nil {
		err := h.Audit.Record(r.Context(), audit.Event{Time: h.Issuer.now().UTC(), Actor: actor(p), Action: "ticket.issue",
			Target: "session:" + req.SessionID, Outcome: "ok", RequestID: h.requestID(r),
			Details: map[string]string{"ticket_id": iss.ID, "scope": string(scope)}})
		if err != nil {
			h.Issuer.discard(iss.Ticket) // never handed out
			h.logger().Error("ticket audit failed", "request_id", h.requestID(r), "err", err)
			h.fail(w, r, http.StatusInternalServerError, "internal", "internal error; quote the request_id when reporting it")
			return
		}
	}
	h.logger().Info("ticket issued", "request_id", h.requestID(r), "ticket_id", iss.ID, "principal", p.ID,
		"session_id", req.SessionID, "scope", string(scope))
	writeJSON(w, http.StatusOK, Response{Ticket: iss.Ticket, ExpiresAt: iss.ExpiresAt})
}

// actor names p in audit events.
func actor(p auth.Principal) string {
	switch p.Kind {
	case auth.KindAPIKey:
		return "key:" + p.ID
	case auth.KindJWT:
		return "jwt:" + p.ID
	case auth.KindAdmin:
		return "user:" + p.ID
	}
	return p.Subject
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) requestID(r *http.Request) string {
	if h.RequestID == nil {
		return ""
	}
	return h.RequestID(r.Context())
}

// fail writes the API's one error shape {"error":{"code","message","request_id"}}.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	type detail struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}
	writeJSON(w, status, struct {
		Error detail `json:"error"`
	}{detail{code, msg, h.requestID(r)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
