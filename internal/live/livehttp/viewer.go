package livehttp

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live"
)

// mayWatch decides whether the request may watch session info. Viewer
// routes take credentials optionally (the gateway has validated any that
// were presented):
//   - a ticket for this session with live.read (viewer-ticket, or one the
//     owner issued through POST /v1/tickets) may;
//   - an admin may, and so may the owner's own key or token with live.read;
//   - anyone may watch a public session.
func mayWatch(r *http.Request, info live.Info) bool {
	if p, ok := auth.FromContext(r.Context()); ok {
		if p.Kind == auth.KindTicket {
			// The ticket authenticator bound it to this path's session.
			if p.SessionID == info.ID && p.Has(auth.ScopeLiveRead) {
				return true
			}
		} else if p.Has(auth.ScopeAdmin) || (p.Has(auth.ScopeLiveRead) && p.Subject != "" && p.Subject == info.Owner) {
			return true
		}
	}
	return info.ViewerMode == live.ViewPublic
}

// watchable looks the session up and answers 404 unless the caller may
// watch it.
func (h *Handlers) watchable(w http.ResponseWriter, r *http.Request) (live.Info, bool) {
	id, ok := pathID(w, r)
	if !ok {
		return live.Info{}, false
	}
	info, err := h.opts.Sessions.Get(r.Context(), "", id)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return live.Info{}, false
	}
	if !mayWatch(r, info) {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return live.Info{}, false
	}
	return info, true
}

// viewBody is what a viewer page may know of a session.
type viewBody struct {
	ID         string          `json:"id"`
	ViewerMode live.ViewerMode `json:"viewer_mode"`
	State      live.State      `json:"state"`
	Label      string          `json:"label,omitempty"`
	LastSeq    uint64          `json:"last_seq,omitempty"`
	Authorized bool            `json:"authorized"`
}

// view serves GET /v1/sessions/{id}/view: a page learns whether to ask for
// a password or exchange a link token. A private session the caller may
// not watch is 404, like any other session it cannot see.
func (h *Handlers) view(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	info, err := h.opts.Sessions.Get(r.Context(), "", id)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	allowed := mayWatch(r, info)
	if !allowed && info.ViewerMode == live.ViewPrivate {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return
	}
	body := viewBody{ID: info.ID, ViewerMode: info.ViewerMode, State: info.State, Authorized: allowed}
	if allowed {
		body.Label, body.LastSeq = info.Label, info.LastSeq
	}
	w.Header().Set("Cache-Control", "no-store")
	apierr.JSON(w, http.StatusOK, body)
}

// viewerTicketRequest is the POST /v1/sessions/{id}/viewer-ticket body.
type viewerTicketRequest struct {
	// Secret is the session's viewer password or link token ("" for a
	// public session).
	Secret string `json:"secret"`
	// Origin is the page's origin the ticket will be presented from.
	Origin string `json:"origin"`
}

// viewerTicket exchanges a session's viewer secret for a single-use
// live.read ticket bound to the session and the page's origin. It takes no
// credentials; a wrong secret is an authentication failure: throttled
// (Fail) and audited, never logged.
func (h *Handlers) viewerTicket(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req viewerTicketRequest
	if !decodeJSON(w, r, maxJSONBody, &req) {
		return
	}
	if len(req.Secret) > 1024 {
		apierr.Write(w, r, apierr.CodeBadRequest, "secret is too long")
		return
	}
	if wait := h.guesses.wait(id); wait > 0 {
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeRateLimited,
			Message: "too many wrong viewer passwords for this session; retry after the Retry-After seconds", RetryAfter: wait})
		return
	}
	release, ok := h.guesses.acquire(r.Context())
	if !ok {
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeNotReady, Message: "too many viewer checks at once; retry shortly", RetryAfter: time.Second})
		return
	}
	info, err := h.opts.Sessions.CheckViewer(r.Context(), id, req.Secret)
	release()
	if err == nil && info.ViewerMode == live.ViewPrivate {
		// A private session has no viewer secret: only its owner's
		// credentials (and tickets the owner issues) open it.
		err = live.ErrNotFound
	}
	switch {
	case errors.Is(err, live.ErrSecret):
		h.guesses.fail(id)
		if h.opts.Fail != nil {
			h.opts.Fail(r)
		}
		h.record(r, audit.Event{Actor: "anonymous", Action: "auth.failure", Target: "session:" + id, Outcome: "denied",
			Details: map[string]string{"reason": "wrong_viewer_secret"}})
		apierr.Write(w, r, apierr.CodeUnauthenticated, "wrong viewer password or link token")
		return
	case err != nil:
		h.writeLiveErr(w, r, err)
		return
	}
	subject := info.Owner
	if subject == "" {
		subject = "session:" + info.ID // a session the server started itself (--source)
	}
	h.issueTicket(w, r, ticket.Grant{Subject: subject, SessionID: info.ID, Scope: auth.ScopeLiveRead, Origin: req.Origin},
		"viewer", "viewer-ticket", nil)
}

// issueTicket issues g (same-origin when g.Origin is this server's) and
// answers with it, audited as actor with "via" and details.
func (h *Handlers) issueTicket(w http.ResponseWriter, r *http.Request, g ticket.Grant, actor, via string, details map[string]string) {
	g.SameOrigin = sameOrigin(g.Origin, r)
	iss, err := h.opts.Tickets.Issue(r.Context(), g)
	switch {
	case errors.Is(err, ticket.ErrBadGrant):
		apierr.Write(w, r, apierr.CodeBadRequest, "origin must be this server's own or one of jwt.tickets.allowed_origins")
		return
	case errors.Is(err, ticket.ErrFull):
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeRateLimited, Message: "too many outstanding tickets; retry shortly", RetryAfter: time.Second})
		return
	case err != nil:
		h.log.Error(via+" ticket failed", "request_id", apierr.RequestID(r.Context()), "session_id", g.SessionID, "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
		return
	}
	d := map[string]string{"ticket_id": iss.ID, "scope": string(g.Scope), "via": via}
	for k, v := range details {
		d[k] = v
	}
	h.record(r, audit.Event{Actor: actor, Action: "ticket.issue", Target: "session:" + g.SessionID, Outcome: "ok", Details: d})
	h.log.Info("ticket issued", "request_id", apierr.RequestID(r.Context()), "session_id", g.SessionID, "ticket_id", iss.ID, "via", via)
	w.Header().Set("Cache-Control", "no-store")
	apierr.JSON(w, http.StatusOK, ticket.Response{Ticket: iss.Ticket, ExpiresAt: iss.ExpiresAt})
}

// record writes an audit event, logging (not failing) when it cannot.
func (h *Handlers) record(r *http.Request, e audit.Event) {
	if h.opts.Audit == nil {
		return
	}
	e.Time, e.RemoteIP, e.RequestID = time.Now().UTC(), h.opts.ClientIP(r), apierr.RequestID(r.Context())
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := h.opts.Audit.Record(ctx, e); err != nil {
		h.log.Error("audit write failed", "request_id", e.RequestID, "action", e.Action, "err", err)
	}
}

// sameOrigin reports whether origin is the server's own (ticket.OwnOrigin).
func sameOrigin(origin string, r *http.Request) bool {
	o, err := config.NormalizeOrigin(origin)
	return err == nil && o != "" && o == ticket.OwnOrigin(r)
}
