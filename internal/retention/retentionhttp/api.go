package retentionhttp

import (
	"html/template"
	"log/slog"
	"net/http"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/retention"
)

// Options configure a Handler.
type Options struct {
	Keeper   *retention.Keeper
	Sessions live.Sessions
	Logger   *slog.Logger
	// CSRF and Chrome come from the console (admin.Session.CSRFToken,
	// admin.Chrome) for its pages; the API route needs neither.
	CSRF   func(*http.Request) string
	Chrome func(*http.Request) template.HTML
}

// Handler serves kept transcripts and snippets.
type Handler struct {
	keeper   *retention.Keeper
	sessions live.Sessions
	log      *slog.Logger
	csrf     func(*http.Request) string
	chrome   func(*http.Request) template.HTML
}

// New returns a Handler.
func New(opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{keeper: opts.Keeper, sessions: opts.Sessions, log: log, csrf: opts.CSRF, chrome: opts.Chrome}
}

// Transcript serves GET /v1/sessions/{id}/transcript: the session's kept
// final captions, to its owner or an admin, as JSON or an export
// (?format=txt|srt|vtt|json|docx|pdf). Reading them is audited.
func (h *Handler) Transcript() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, _ := auth.FromContext(r.Context())
		owner := pr.Subject
		if pr.Has(auth.ScopeAdmin) {
			owner = ""
		}
		id := r.PathValue("id")
		info, err := h.sessions.Get(r.Context(), owner, id)
		if err != nil {
			apierr.Write(w, r, apierr.CodeNotFound, "no such session")
			return
		}
		if !checkFormat(w, r) {
			return
		}
		evs, err := h.keeper.Transcript(retention.WithActor(r.Context(), auth.ActorID(pr)), id)
		if err != nil {
			keptError(w, r, h.log, id, err)
			return
		}
		writeExport(w, r, h.log, info, evs)
	})
}
