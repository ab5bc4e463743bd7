package livehttp

import (
	"errors"
	"net/http"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

// Redeemer consumes single-use pairing codes (ticket.NewPairingIssuer).
type Redeemer interface {
	Redeem(tok, sessionID, origin string) (auth.Principal, error)
}

var _ Redeemer = (*ticket.Issuer)(nil)

// micTicketRequest is the body of POST /v1/sessions/{id}/mic-ticket.
type micTicketRequest struct {
	// Code is the pairing code from the console's QR (the URL fragment).
	Code string `json:"code"`
	// Origin is the page's origin the ticket will be presented from.
	Origin string `json:"origin"`
}

// micTicket exchanges a console pairing code for a live.write WebSocket
// ticket on that one session, starting the session if it is idle. The code
// is consumed by any attempt; a wrong or used code counts as a failed
// authentication (throttled, audited) like a wrong viewer password.
func (h *Handlers) micTicket(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req micTicketRequest
	if !decodeJSON(w, r, maxJSONBody, &req) {
		return
	}
	if !ticket.WellFormed(req.Code) {
		apierr.Write(w, r, apierr.CodeBadRequest, "code is not a pairing code")
		return
	}
	p, err := h.opts.Pairings.Redeem(req.Code, id, req.Origin)
	if err != nil || !p.Has(auth.ScopeLiveWrite) {
		if h.opts.Fail != nil {
			h.opts.Fail(r)
		}
		h.record(r, audit.Event{Actor: "anonymous", Action: "auth.failure", Target: "session:" + id, Outcome: "denied",
			Details: map[string]string{"reason": "bad_pairing_code"}})
		apierr.Write(w, r, apierr.CodeUnauthenticated, "the pairing code is wrong, used or expired; pair again from the console")
		return
	}
	if _, err := h.opts.Sessions.Start(r.Context(), "", id); err != nil && !errors.Is(err, live.ErrTransition) {
		h.writeLiveErr(w, r, err)
		return
	}
	h.issueTicket(w, r, ticket.Grant{Subject: p.Subject, SessionID: id, Scope: auth.ScopeLiveWrite, Origin: req.Origin},
		p.Subject, "mic-pairing", map[string]string{"pairing_id": p.ID})
}
