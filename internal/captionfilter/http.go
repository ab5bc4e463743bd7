package captionfilter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/strictjson"
	"github.com/izwi-speech/izwi/internal/wordfilter"
)

// MaxBody bounds a PUT of settings: 200 replacements of 2 × 100 bytes,
// quoted, fit with room to spare.
const MaxBody = 64 << 10

// Handler serves GET and PUT /v1/sessions/{id}/filters to the session's
// owner or an admin.
type Handler struct {
	filters  *Filters
	sessions live.Sessions
	audit    audit.Recorder
	log      *slog.Logger
}

// NewHandler returns the settings routes' handler.
func NewHandler(f *Filters, sessions live.Sessions, rec audit.Recorder, log *slog.Logger) *Handler {
	return &Handler{filters: f, sessions: sessions, audit: rec, log: log}
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) (auth.Principal, string, bool) {
	pr, _ := auth.FromContext(r.Context())
	owner := pr.Subject
	if pr.Has(auth.ScopeAdmin) {
		owner = ""
	}
	id := r.PathValue("id")
	if _, err := h.sessions.Get(r.Context(), owner, id); err != nil {
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
		return pr, "", false
	}
	return pr, id, true
}

// Get answers the session's settings.
func (h *Handler) Get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, id, ok := h.session(w, r)
		if !ok {
			return
		}
		s, ok := h.settings(w, r, id)
		if !ok {
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		apierr.JSON(w, http.StatusOK, s)
	})
}

// Put replaces the session's settings (every field; omitted ones take
// their zero value) and audits the change.
func (h *Handler) Put() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, id, ok := h.session(w, r)
		if !ok {
			return
		}
		var s Settings
		err := strictjson.DecodeBody(w, r, MaxBody, &s)
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			apierr.Write(w, r, apierr.CodePayloadTooLarge, fmt.Sprintf("the body must be at most %d bytes", MaxBody))
			return
		case err != nil:
			apierr.Write(w, r, apierr.CodeBadRequest, "the body must be one JSON object {\"format\",\"profanity_filter\",\"replace\":[{\"find\",\"replace\"}]}")
			return
		}
		if s.Replace == nil {
			s.Replace = []wordfilter.Rule{}
		}
		if err := compileCheck(s); err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, strings.TrimPrefix(err.Error(), "wordfilter: "))
			return
		}
		if err := h.record(r, pr, id, s); err != nil {
			h.log.Error("auditing caption settings", "session_id", id, "request_id", apierr.RequestID(r.Context()), "err", err)
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		if err := h.filters.Set(r.Context(), id, s); err != nil {
			h.log.Error("storing caption settings", "session_id", id, "request_id", apierr.RequestID(r.Context()), "err", err)
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		apierr.JSON(w, http.StatusOK, s)
	})
}

// settings reads a session's settings, or answers 500.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request, id string) (Settings, bool) {
	s, err := h.filters.Get(r.Context(), id)
	if err != nil {
		h.log.Error("reading caption settings", "session_id", id, "request_id", apierr.RequestID(r.Context()), "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
		return Settings{}, false
	}
	return s, true
}

func compileCheck(s Settings) error {
	_, err := compile(s)
	return err
}

// record audits a change before it is made (an unaudited change is not
// made): who, which session, what was switched; never the words listed.
func (h *Handler) record(r *http.Request, pr auth.Principal, id string, s Settings) error {
	return h.audit.Record(r.Context(), audit.Event{Time: h.filters.now().UTC(), Actor: auth.ActorID(pr), Action: "session.captions",
		Target: "session:" + id, Outcome: "ok", Details: map[string]string{
			"format": fmt.Sprint(s.Format), "profanity_filter": fmt.Sprint(s.Profanity), "replacements": fmt.Sprint(len(s.Replace))}})
}
