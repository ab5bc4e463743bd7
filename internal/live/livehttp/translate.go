package livehttp

import (
	"context"
	"errors"
	"net/http"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/live"
)

// Translations is live translation (*livetranslate.Service, issue 18):
// the target languages a session is created with, and a viewer's feed in
// one of them.
//
// Contract: Prepare normalises a new session's targets and refuses ones no
// engine serves (the error's text is safe to show); Set records them (nil:
// forget); Langs returns them; Feed returns src translated into lang (src
// itself for the source language), owning src, or an error for a language
// the session does not offer.
type Translations interface {
	Prepare(ctx context.Context, sessionLanguage string, targets []string) ([]string, error)
	Set(ctx context.Context, id string, langs []string) error
	Langs(ctx context.Context, id string) ([]string, error)
	Feed(ctx context.Context, info live.Info, lang string, src live.Feed) (live.Feed, error)
}

// createBody is the POST /v1/sessions body: the manager's request and the
// languages viewers may read it in.
type createBody struct {
	live.CreateRequest
	Translate []string `json:"translate,omitempty"`
}

// createdAnswer is the answer: the session and its translation targets.
type createdAnswer struct {
	live.Created
	Translate []string `json:"translate,omitempty"`
}

// infoBody is a session as GET /v1/sessions/{id} shows it.
type infoBody struct {
	live.Info
	Translate []string `json:"translate,omitempty"`
}

// prepareTranslate checks a new session's targets, or answers the refusal.
func (h *Handlers) prepareTranslate(w http.ResponseWriter, r *http.Request, req createBody) ([]string, bool) {
	if len(req.Translate) == 0 {
		return nil, true
	}
	if h.opts.Translations == nil {
		apierr.Write(w, r, apierr.CodeUnsupportedLanguage, "this server has no translation engine configured ([translate])")
		return nil, false
	}
	langs, err := h.opts.Translations.Prepare(r.Context(), req.Language, req.Translate)
	if err != nil {
		apierr.Write(w, r, apierr.CodeUnsupportedLanguage, badConfigMessage(err))
		return nil, false
	}
	return langs, true
}

// langsOf is a session's translation targets (nil when none or unknown).
func (h *Handlers) langsOf(ctx context.Context, id string) []string {
	if h.opts.Translations == nil {
		return nil
	}
	l, err := h.opts.Translations.Langs(ctx, id)
	if err != nil {
		h.log.Warn("translation languages unavailable", "request_id", apierr.RequestID(ctx), "session_id", id, "err", err)
	}
	return l
}

// translated applies ?lang= to a viewer's feed, or answers the refusal
// (and closes feed).
func (h *Handlers) translated(ctx context.Context, w http.ResponseWriter, r *http.Request, info live.Info, feed live.Feed) (live.Feed, bool) {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		return feed, true
	}
	if len(lang) > 35 || h.opts.Translations == nil {
		feed.Close()
		apierr.Write(w, r, apierr.CodeUnsupportedLanguage, "this session offers no translation into lang")
		return nil, false
	}
	out, err := h.opts.Translations.Feed(ctx, info, lang, feed)
	if err != nil {
		feed.Close()
		var msg = "this session offers no translation into lang; GET /v1/sessions/{id}/view lists its languages"
		if !errors.Is(err, context.Canceled) {
			apierr.Write(w, r, apierr.CodeUnsupportedLanguage, msg)
		}
		return nil, false
	}
	return out, true
}
