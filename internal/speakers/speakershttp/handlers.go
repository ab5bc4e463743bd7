// Package speakershttp is the admin console's speaker pages and API:
// enrolment (the subject reads the consent script aloud while the page
// records them), the subject list, GDPR export and erasure. It is mounted on
// the admin listener only (cmd/izwi), behind the console's session, role
// and CSRF checks; it reads the acting user from the request's principal.
package speakershttp

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/memform"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speakers"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/webasset"
)

//go:embed assets
var assets embed.FS

// MaxRecording bounds an enrolment upload: two minutes of 48 kHz PCM16.
const MaxRecording = 2 * 60 * 48000 * 2

// Options are the handlers' dependencies.
type Options struct {
	Registry *speakers.Registry
	// Embedder and VAD are the loaded speaker and vad roles; Model names
	// the speaker model. A nil Embedder turns enrolment off, saying why.
	Embedder speech.Embedder
	VAD      speech.VAD
	Model    string
	// Requirements is the enrolment bar (zero: speaker's defaults).
	Requirements speaker.Requirements
	// CSRF returns the console session's CSRF token for the page.
	CSRF func(*http.Request) string
	// Chrome renders the console's shared header and navigation (admin.Chrome).
	Chrome func(*http.Request) template.HTML
	// ClientIP gives the client's address for consent evidence (the
	// connection's peer when nil).
	ClientIP func(*http.Request) string
	Logger   *slog.Logger
}

// Handlers serves the pages and API.
type Handlers struct{ o Options }

// New returns the handlers.
func New(o Options) *Handlers {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handlers{o: o}
}

var page = template.Must(template.ParseFS(assets, "assets/speakers.html"))

// csp lets the page run its own scripts and record the microphone; the
// console's default allows no script at all.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Page serves GET /speakers.
func (h *Handlers) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		script, _ := speakers.Script(speakers.CurrentScript)
		csrf := ""
		if h.o.CSRF != nil {
			csrf = h.o.CSRF(r)
		}
		var chrome template.HTML
		if h.o.Chrome != nil {
			chrome = h.o.Chrome(r)
		}
		_ = page.Execute(w, map[string]any{"CSRF": csrf, "Chrome": chrome, "Enabled": h.o.Embedder != nil && h.o.VAD != nil,
			"Script": script, "Version": speakers.CurrentScript})
	})
}

// Asset serves GET /speakers/assets/{file}.
func (h *Handlers) Asset() http.Handler { return webasset.Handler(assets, "assets", csp) }

// List serves GET /api/speakers.
func (h *Handlers) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := h.o.Registry.List(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if list == nil {
			list = []speakers.Subject{}
		}
		apierr.JSON(w, http.StatusOK, map[string]any{"subjects": list, "enrolment": h.status()})
	})
}

func (h *Handlers) status() map[string]any {
	if h.o.Embedder == nil || h.o.VAD == nil {
		return map[string]any{"enabled": false,
			"reason": "no speaker model (or no VAD) is installed; install one (docs/models.md) to identify speakers"}
	}
	return map[string]any{"enabled": true, "model": h.o.Model}
}

// enrolForm is the enrolment form: short text fields and one recording
// (the page's own controls, such as its upload picker, are skipped).
var enrolForm = memform.Spec{
	Fields:        map[string]int{"name": 1024, "text_version": 256, "method": 64, "consent": 16, "typed_name": 1024, "csrf": 256},
	Files:         map[string]int64{"audio": MaxRecording},
	IgnoreUnknown: true,
}

// Enrol serves POST /api/speakers: multipart fields name, text_version,
// method, consent ("yes"), and the recording as file "audio".
func (h *Handlers) Enrol() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.o.Embedder == nil || h.o.VAD == nil {
			apierr.Write(w, r, apierr.CodeNotReady, "speaker identification is off: no speaker model is installed")
			return
		}
		// The recording is a voice: read into memory, never spilled to a
		// temporary file as ParseMultipartForm would.
		form, err := memform.Read(r, enrolForm)
		if err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, "send multipart/form-data with name, text_version, method, consent and audio")
			return
		}
		rec, ok := form.Files["audio"]
		if !ok {
			apierr.Write(w, r, apierr.CodeBadRequest, "the recording (field audio) is missing")
			return
		}
		clip, err := audio.DecodeContext(r.Context(), bytes.NewReader(rec.Data), audio.Limits{MaxDuration: 2 * time.Minute})
		clear(rec.Data)
		if err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, "the recording is not audio Izwi can read (WAV, FLAC, MP3, Ogg/Opus, WebM/Opus or M4A/AAC)")
			return
		}
		p, _ := auth.FromContext(r.Context())
		v := form.Values
		req := speakers.EnrolRequest{Name: v["name"], Requirements: h.o.Requirements,
			Consent: speakers.ConsentInput{TextVersion: v["text_version"], Method: consent.Method(v["method"]),
				Operator: p.Subject, Granted: v["consent"] == "yes", TypedName: v["typed_name"],
				RemoteIP: h.clientIP(r), UserAgent: r.UserAgent()}}
		if req.Samples, err = audio.Prepare(clip, h.o.Embedder.SampleRate()); err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, "the recording cannot be converted")
			return
		}
		vadSamples, err := audio.Prepare(clip, h.o.VAD.SampleRate())
		if err == nil {
			req.Speech, err = speakers.MeasureSpeech(h.o.VAD, vadSamples)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		ctx := speakers.WithActor(r.Context(), p.Subject)
		sub, q, err := h.o.Registry.Enrol(ctx, h.o.Embedder, h.o.Model, req)
		if errors.Is(err, speakers.ErrQuality) {
			apierr.Write(w, r, apierr.CodeUnprocessable, "the recording does not meet the enrolment bar: "+strings.Join(q.Problems, "; "))
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		apierr.JSON(w, http.StatusCreated, map[string]any{"subject": sub, "quality": q})
	})
}

// Export serves GET /api/speakers/{id}/export.
func (h *Handlers) Export() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		ex, err := h.o.Registry.ExportSubject(speakers.WithActor(r.Context(), p.Subject), r.PathValue("id"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="subject-export.json"`)
		apierr.JSON(w, http.StatusOK, ex)
	})
}

// Erase serves DELETE /api/speakers/{id}: an erasure request.
func (h *Handlers) Erase() http.Handler {
	return h.end(func(reg *speakers.Registry) func(context.Context, string) error { return reg.Erase })
}

// Withdraw serves POST /api/speakers/{id}/withdraw: the subject withdraws
// consent (one click, as easy as giving it); their voiceprint is destroyed.
func (h *Handlers) Withdraw() http.Handler {
	return h.end(func(reg *speakers.Registry) func(context.Context, string) error { return reg.Withdraw })
}

func (h *Handlers) end(op func(*speakers.Registry) func(context.Context, string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		if err := op(h.o.Registry)(speakers.WithActor(r.Context(), p.Subject), r.PathValue("id")); err != nil {
			h.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// clientIP is the console client's address, for consent evidence.
func (h *Handlers) clientIP(r *http.Request) string {
	if h.o.ClientIP != nil {
		return h.o.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, speakers.ErrNotFound):
		apierr.Write(w, r, apierr.CodeNotFound, "no such subject")
	case errors.Is(err, speakers.ErrNoConsent):
		apierr.Write(w, r, apierr.CodeForbidden, "explicit, recorded consent is required: consent=yes, a known text_version and a method (spoken_script, typed_signature with typed_name, or paper)")
	case errors.Is(err, speakers.ErrBadRequest):
		apierr.Write(w, r, apierr.CodeBadRequest, "a name of 1-200 characters is required")
	default:
		h.o.Logger.Error("speakers request failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
	}
}
