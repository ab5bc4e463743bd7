package livehttp

import (
	"context"
	"net/http"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

// The session REST routes run behind the gateway's live.write check, so a
// principal is always present; its subject owns what it creates, and an
// admin acts on any session. Another owner's session is 404, never 403, so
// ids cannot be probed.

// principal returns the request's principal or answers 401.
func principal(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, ok := auth.FromContext(r.Context())
	if !ok || p.Subject == "" {
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return auth.Principal{}, false
	}
	return p, true
}

// pathID returns the {id} wildcard, answering 404 for one no session can have.
func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !ticket.ValidSessionID(id) {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return "", false
	}
	return id, true
}

func (h *Handlers) create(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	var req createBody
	if !decodeOptional(w, r, maxSessionBody, &req) {
		return
	}
	langs, ok := h.prepareTranslate(w, r, req)
	if !ok {
		return
	}
	c, err := h.opts.Sessions.Create(r.Context(), p.Subject, req.CreateRequest)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	if len(langs) > 0 {
		if err := h.opts.Translations.Set(r.Context(), c.ID, langs); err != nil {
			_ = h.opts.Sessions.Delete(context.WithoutCancel(r.Context()), p.Subject, c.ID)
			h.writeLiveErr(w, r, err)
			return
		}
	}
	h.log.Info("session created", "request_id", apierr.RequestID(r.Context()), "session_id", c.ID, "principal", p.ID,
		"viewer_mode", string(c.ViewerMode))
	w.Header().Set("Cache-Control", "no-store") // the link token is shown once
	w.Header().Set("Location", "/v1/sessions/"+c.ID)
	apierr.JSON(w, http.StatusCreated, createdAnswer{Created: c, Translate: langs})
}

// listBody is the GET /v1/sessions answer.
type listBody struct {
	Sessions []live.Info `json:"sessions"`
}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	all, err := h.opts.Sessions.List(r.Context(), ownerOf(p))
	if err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	if all == nil {
		all = []live.Info{}
	}
	apierr.JSON(w, http.StatusOK, listBody{Sessions: all})
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	info, err := h.opts.Sessions.Get(r.Context(), ownerOf(p), id)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	apierr.JSON(w, http.StatusOK, infoBody{Info: info, Translate: h.langsOf(r.Context(), id)})
}

func (h *Handlers) update(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req live.UpdateRequest
	if !decodeJSON(w, r, maxSessionBody, &req) {
		return
	}
	h.applyUpdate(w, r, p, id, req)
}

// applyUpdate applies req to the caller's session and answers with it
// (PATCH, and PUT .../context with a document's text).
func (h *Handlers) applyUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal, id string, req live.UpdateRequest) {
	info, err := h.opts.Sessions.Update(r.Context(), ownerOf(p), id, req)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	h.log.Info("session updated", "request_id", apierr.RequestID(r.Context()), "session_id", id, "principal", p.ID)
	apierr.JSON(w, http.StatusOK, info)
}

func (h *Handlers) delete(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := h.opts.Sessions.Delete(r.Context(), ownerOf(p), id); err != nil {
		h.writeLiveErr(w, r, err)
		return
	}
	if h.opts.Translations != nil {
		if err := h.opts.Translations.Set(r.Context(), id, nil); err != nil {
			h.log.Warn("forgetting translation languages", "request_id", apierr.RequestID(r.Context()), "session_id", id, "err", err)
		}
	}
	h.log.Info("session deleted", "request_id", apierr.RequestID(r.Context()), "session_id", id, "principal", p.ID)
	w.WriteHeader(http.StatusNoContent)
}

// transition serves start, stop and resume: they take no body.
func (h *Handlers) transition(fn func(ctx context.Context, owner, id string) (live.Info, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principal(w, r)
		if !ok {
			return
		}
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		// No body, or an empty JSON object from clients that always send one.
		var empty struct{}
		if !decodeOptional(w, r, maxJSONBody, &empty) {
			return
		}
		info, err := fn(r.Context(), ownerOf(p), id)
		if err != nil {
			h.writeLiveErr(w, r, err)
			return
		}
		h.log.Info("session state changed", "request_id", apierr.RequestID(r.Context()), "session_id", id, "principal", p.ID,
			"state", string(info.State))
		apierr.JSON(w, http.StatusOK, info)
	})
}
