package retentionhttp

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/retention"
	"github.com/izwi-speech/izwi/internal/strictjson"
	"github.com/izwi-speech/izwi/internal/transcript"
	"github.com/izwi-speech/izwi/internal/webasset"
)

// The console's Archive and Review pages, mounted on the admin listener as
// extra routes (cmd/izwi): the console's guard has checked the session,
// the role and, on every state change, the CSRF token (X-CSRF-Token); the
// acting user is the request's principal, so the keeper audits them.

//go:embed assets
var assets embed.FS

var pageT = template.Must(template.ParseFS(assets, "assets/pages.html"))

// csp lets the pages run their one script and play snippet audio from
// this origin; nothing else.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"media-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// maxConsoleBody bounds a correction or review action's JSON.
const maxConsoleBody = 16 << 10

// maxReviewPage bounds how many snippets the Review page opens at once
// (each is decrypted and audited).
const maxReviewPage = 50

func (h *Handler) render(w http.ResponseWriter, r *http.Request, name, title string, data map[string]any) {
	data["Title"] = title
	if h.csrf != nil {
		data["CSRF"] = h.csrf(r)
	}
	if h.chrome != nil {
		data["Chrome"] = h.chrome(r)
	}
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageT.ExecuteTemplate(w, name, data); err != nil {
		h.log.Error("rendering a console page", "page", name, "err", err)
	}
}

func (h *Handler) actor(r *http.Request) *http.Request {
	pr, _ := auth.FromContext(r.Context())
	return r.WithContext(retention.WithActor(r.Context(), auth.ActorID(pr)))
}

type keptRow struct {
	retention.Kept
	Name string
}

// ArchivePage serves GET /archive: the kept transcripts, searchable by
// label or session id (the words are sealed and not indexed).
func (h *Handler) ArchivePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := h.keeper.List(r.Context())
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		q := strings.TrimSpace(r.URL.Query().Get("q"))
		q = truncate(q, 200)
		var rows []keptRow
		for _, k := range list {
			name := k.SessionID
			if info, err := h.sessions.Get(r.Context(), "", k.SessionID); err == nil && info.Label != "" {
				name = info.Label + " (" + k.SessionID + ")"
			}
			if q == "" || strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
				rows = append(rows, keptRow{Kept: k, Name: name})
			}
		}
		h.render(w, r, "archive", "Archive", map[string]any{"Kept": rows, "Query": q})
	})
}

type lineRow struct {
	Seq                 uint64
	Time, Speaker, Text string
}

// TranscriptPage serves GET /archive/{id}: the captions with times and
// speakers, each correctable; exports; delete. Opening it is an audited
// read.
func (h *Handler) TranscriptPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		evs, err := h.keeper.Transcript(h.actor(r).Context(), id)
		if err != nil {
			keptError(w, r, h.log, id, err)
			return
		}
		var expires time.Time
		if list, err := h.keeper.List(r.Context()); err == nil {
			for _, k := range list {
				if k.SessionID == id {
					expires = k.ExpiresAt
				}
			}
		}
		rows := make([]lineRow, len(evs))
		for i, e := range evs {
			rows[i] = lineRow{Seq: e.Seq, Time: transcript.Clock(time.Duration(e.Start * float64(time.Second))), Speaker: e.Speaker, Text: e.Text}
		}
		title := "Transcript " + id
		if info, err := h.sessions.Get(r.Context(), "", id); err == nil {
			title = "Transcript: " + Title(info)
		}
		h.render(w, r, "transcript", title, map[string]any{"ID": id, "Lines": rows, "Formats": transcript.Formats(), "ExpiresAt": expires})
	})
}

// ExportFile serves GET /archive/{id}/export?format=: the transcript in
// any export format (an audited read).
func (h *Handler) ExportFile() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !checkFormat(w, r) {
			return
		}
		evs, err := h.keeper.Transcript(h.actor(r).Context(), id)
		if err != nil {
			keptError(w, r, h.log, id, err)
			return
		}
		info, err := h.sessions.Get(r.Context(), "", id)
		if err != nil {
			info = live.Info{ID: id} // the session was deleted; what it kept is still here until shredded
		}
		writeExport(w, r, h.log, info, evs)
	})
}

// CorrectCaption serves POST /archive/{id}/captions/{seq} {"text"}.
func (h *Handler) CorrectCaption() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
		if err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, "the caption number is not a number")
			return
		}
		var body struct {
			Text string `json:"text"`
		}
		if !decode(w, r, &body) {
			return
		}
		err = h.keeper.Correct(h.actor(r).Context(), id, seq, body.Text)
		h.changed(w, r, id, err, apierr.CodeNotFound, "that caption is not kept (any more)")
	})
}

// changed answers a correction or a review: 204, or why not. A missing
// caption is answered with noCaption and msg.
func (h *Handler) changed(w http.ResponseWriter, r *http.Request, id string, err error, noCaption apierr.Code, msg string) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, retention.ErrNotFound), errors.Is(err, retention.ErrExpired):
		apierr.Write(w, r, apierr.CodeNotFound, "no such snippet (reviewed, deleted or expired)")
	case errors.Is(err, retention.ErrNoCaption):
		apierr.Write(w, r, noCaption, msg)
	case errors.Is(err, retention.ErrBadCorrection):
		apierr.Write(w, r, apierr.CodeBadRequest, fmt.Sprintf("a correction is 1 to %d bytes of text", retention.MaxCorrection))
	default:
		h.fail(w, r, id, err)
	}
}

// DeleteTranscript serves DELETE /archive/{id}: crypto-shreds the
// session's transcript key and snippets (audited).
func (h *Handler) DeleteTranscript() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := h.keeper.DestroySession(h.actor(r).Context(), id, "deleted_by_operator"); err != nil {
			h.fail(w, r, id, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

type snippetRow struct {
	retention.Snippet
	At string
}

// ReviewPage serves GET /review: the snippets waiting, with their text
// (each opened is an audited read), audio players and expiry.
func (h *Handler) ReviewPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queue, err := h.keeper.Review(r.Context())
		if err != nil {
			h.fail(w, r, "", err)
			return
		}
		rows := make([]snippetRow, 0, min(len(queue), maxReviewPage))
		for _, s := range queue[:min(len(queue), maxReviewPage)] {
			c, err := h.keeper.SnippetContent(h.actor(r).Context(), s.ID)
			if err != nil {
				continue // expired or shredded meanwhile
			}
			s.Text = c.Text
			clear(c.PCM16)
			rows = append(rows, snippetRow{Snippet: s, At: transcript.Clock(s.Start)})
		}
		h.render(w, r, "review", "Review", map[string]any{"Snippets": rows})
	})
}

// SnippetAudio serves GET /review/{id}/audio: the snippet decrypted as a
// WAV, to the console user only, never cached (an audited read).
func (h *Handler) SnippetAudio() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s, err := h.keeper.SnippetContent(h.actor(r).Context(), id)
		switch {
		case errors.Is(err, retention.ErrNotFound), errors.Is(err, retention.ErrExpired):
			apierr.Write(w, r, apierr.CodeNotFound, "no such snippet (reviewed, deleted or expired)")
			return
		case err != nil:
			h.fail(w, r, id, err)
			return
		}
		samples := make([]float32, len(s.PCM16)/2)
		for i := range samples {
			samples[i] = float32(int16(uint16(s.PCM16[2*i])|uint16(s.PCM16[2*i+1])<<8)) / 32768
		}
		clear(s.PCM16)
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Cache-Control", "no-store")
		if err := audio.EncodeWAV(w, samples, s.Rate, 1); err != nil {
			h.log.Warn("sending a snippet", "request_id", apierr.RequestID(r.Context()), "err", err)
		}
	})
}

// ResolveSnippet serves POST /review/{id} {"outcome":"approved|corrected|deleted","text"}.
func (h *Handler) ResolveSnippet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var body struct {
			Outcome string `json:"outcome"`
			Text    string `json:"text"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.Outcome != "approved" && body.Outcome != "corrected" && body.Outcome != "deleted" {
			apierr.Write(w, r, apierr.CodeBadRequest, "outcome must be approved, corrected or deleted")
			return
		}
		err := h.keeper.Resolve(h.actor(r).Context(), id, body.Outcome, body.Text)
		h.changed(w, r, id, err, apierr.CodeConflict, "the caption this snippet came from is not kept: approve or delete it")
	})
}

// Asset serves GET /archive-assets/{file}.
func (h *Handler) Asset() http.Handler { return webasset.Handler(assets, "assets", "") }

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := strictjson.DecodeBody(w, r, maxConsoleBody, v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apierr.Write(w, r, apierr.CodePayloadTooLarge, fmt.Sprintf("the body must be at most %d bytes", maxConsoleBody))
		return false
	case err != nil:
		apierr.Write(w, r, apierr.CodeBadRequest, "the body must be one JSON object with known fields")
		return false
	}
	return true
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, id string, err error) {
	h.log.Error("archive", "session_id", id, "request_id", apierr.RequestID(r.Context()), "err", err)
	apierr.Write(w, r, apierr.CodeInternal, "")
}
