package ticket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// maxBody bounds a POST /v1/tickets body.
const maxBody = 4 << 10

// Handler serves POST /v1/tickets. It runs behind the authentication
// middleware (the caller is an API key, JWT or admin principal) and issues a
// ticket for a scope the caller holds.
type Handler struct {
	Issuer *Issuer
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
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return
	}
	if p.Kind == auth.KindTicket {
		apierr.Write(w, r, apierr.CodeForbidden, "a ticket cannot be used to obtain tickets")
		return
	}
	var req Request
	if err := strictjson.DecodeBody(w, r, maxBody, &req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apierr.Write(w, r, apierr.CodePayloadTooLarge, "")
			return
		}
		apierr.Write(w, r, apierr.CodeBadRequest, "body must be one JSON object {session_id, scope, origin}: "+err.Error())
		return
	}
	scope := auth.Scope(req.Scope)
	if scope != auth.ScopeLiveRead && scope != auth.ScopeLiveWrite {
		apierr.Write(w, r, apierr.CodeBadRequest, "scope must be live.read or live.write")
		return
	}
	if !ValidSessionID(req.SessionID) {
		apierr.Write(w, r, apierr.CodeBadRequest, "session_id must be 1-128 characters of A-Z a-z 0-9 . _ -")
		return
	}
	if !p.Has(scope) {
		apierr.Write(w, r, apierr.CodeForbidden, "the caller does not hold scope "+string(scope))
		return
	}
	if h.Authorize != nil {
		if err := h.Authorize(r.Context(), p, req.SessionID, scope); err != nil {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
			return
		}
	}
	iss, err := h.Issuer.Issue(r.Context(), Grant{Subject: p.Subject, SessionID: req.SessionID, Scope: scope, Origin: req.Origin,
		SameOrigin: sameOrigin(req.Origin, r)})
	switch {
	case errors.Is(err, ErrBadGrant):
		apierr.Write(w, r, apierr.CodeBadRequest, "origin must be one of jwt.tickets.allowed_origins")
		return
	case errors.Is(err, ErrFull):
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeRateLimited, Message: "too many outstanding tickets; retry shortly", RetryAfter: time.Second})
		return
	case err != nil:
		apierr.Write(w, r, apierr.CodeInternal, "")
		return
	}
	if h.Audit != nil {
		err := h.Audit.Record(r.Context(), audit.Event{Time: h.Issuer.now().UTC(), Actor: actor(p), Action: "ticket.issue",
			Target: "session:" + req.SessionID, Outcome: "ok", RequestID: apierr.RequestID(r.Context()),
			Details: map[string]string{"ticket_id": iss.ID, "scope": string(scope)}})
		if err != nil {
			h.Issuer.discard(iss.Ticket) // never handed out
			h.logger().Error("ticket audit failed", "request_id", apierr.RequestID(r.Context()), "err", err)
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
	}
	h.logger().Info("ticket issued", "request_id", apierr.RequestID(r.Context()), "ticket_id", iss.ID, "principal", p.ID,
		"session_id", req.SessionID, "scope", string(scope))
	apierr.JSON(w, http.StatusOK, Response{Ticket: iss.Ticket, ExpiresAt: iss.ExpiresAt})
}

// sameOrigin reports whether origin is the server's own (see OwnOrigin).
func sameOrigin(origin string, r *http.Request) bool {
	o, err := config.NormalizeOrigin(origin)
	own := OwnOrigin(r)
	return err == nil && own != "" && o == own
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
