package outputs

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// Sessions finds a caller's session (live.Sessions does): owner "" is an
// admin, any other owner sees only its own sessions (ErrNotFound).
type Sessions interface {
	Get(ctx context.Context, owner, id string) (live.Info, error)
}

// Handlers are the outputs routes, behind the gateway's live.write check:
//
//	POST   /v1/sessions/{id}/outputs        a Spec → 201 Info
//	GET    /v1/sessions/{id}/outputs        {"outputs": [Info]}
//	DELETE /v1/sessions/{id}/outputs/{oid}  204
type Handlers struct {
	Create, List, Delete http.Handler
	m                    *Manager
	sessions             Sessions
}

// maxSpecBody bounds a POST body.
const maxSpecBody = 4 << 10

// NewHandlers builds the handlers over m.
func NewHandlers(m *Manager, sessions Sessions) *Handlers {
	h := &Handlers{m: m, sessions: sessions}
	h.Create, h.List, h.Delete = http.HandlerFunc(h.create), http.HandlerFunc(h.list), http.HandlerFunc(h.delete)
	return h
}

// session answers the refusal itself when the caller may not act on the
// {id} session.
func (h *Handlers) session(w http.ResponseWriter, r *http.Request) (live.Info, bool) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.Subject == "" {
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return live.Info{}, false
	}
	id := r.PathValue("id")
	owner := p.Subject
	if p.Has(auth.ScopeAdmin) {
		owner = ""
	}
	if !ticket.ValidSessionID(id) {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return live.Info{}, false
	}
	info, err := h.sessions.Get(r.Context(), owner, id)
	if err != nil {
		if errors.Is(err, live.ErrNotFound) {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		} else {
			apierr.Write(w, r, apierr.CodeInternal, "")
		}
		return live.Info{}, false
	}
	return info, true
}

func (h *Handlers) create(w http.ResponseWriter, r *http.Request) {
	info, ok := h.session(w, r)
	if !ok {
		return
	}
	var s Spec
	if err := strictjson.DecodeBody(w, r, maxSpecBody, &s); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apierr.Write(w, r, apierr.CodePayloadTooLarge, "the body must be at most 4096 bytes")
			return
		}
		apierr.Write(w, r, apierr.CodeBadRequest, "the body must be one JSON output object with known fields")
		return
	}
	if s.Lang != "" {
		if err := h.m.Offers(r.Context(), info, s.Lang); err != nil {
			apierr.Write(w, r, apierr.CodeUnsupportedLanguage, "the session offers no translation into lang")
			return
		}
	}
	out, err := h.m.Add(r.Context(), info.ID, s)
	switch {
	case errors.Is(err, ErrBadSpec):
		apierr.Write(w, r, apierr.CodeBadRequest, Refusal(err))
		return
	case errors.Is(err, ErrNotAllowed):
		apierr.Write(w, r, apierr.CodeForbidden, Refusal(err))
		return
	case errors.Is(err, ErrLimit):
		apierr.Write(w, r, apierr.CodeConflict, Refusal(err))
		return
	case err != nil:
		apierr.Write(w, r, apierr.CodeNotReady, "the server is stopping")
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+info.ID+"/outputs/"+out.ID)
	apierr.JSON(w, http.StatusCreated, out)
}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	info, ok := h.session(w, r)
	if !ok {
		return
	}
	apierr.JSON(w, http.StatusOK, struct {
		Outputs []Info `json:"outputs"`
	}{h.m.List(info.ID)})
}

func (h *Handlers) delete(w http.ResponseWriter, r *http.Request) {
	info, ok := h.session(w, r)
	if !ok {
		return
	}
	if err := h.m.Remove(r.Context(), info.ID, r.PathValue("oid")); errors.Is(err, ErrNotFound) {
		apierr.Write(w, r, apierr.CodeNotFound, "no such output")
		return
	} else if err != nil {
		apierr.Write(w, r, apierr.CodeNotReady, "the output did not stop in time")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Refusal is what to tell the person whose output Add refused (ErrBadSpec,
// ErrNotAllowed, ErrLimit), for the API and the console alike; "" for any
// other error.
func Refusal(err error) string {
	switch {
	case errors.Is(err, ErrBadSpec):
		return strings.TrimPrefix(err.Error(), "outputs: ")
	case errors.Is(err, ErrNotAllowed):
		return "the server connects only where its operator allows: add the host to [outputs] allow_hosts"
	case errors.Is(err, ErrLimit):
		return "this session has as many outputs as it may"
	}
	return ""
}
