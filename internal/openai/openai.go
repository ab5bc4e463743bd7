// Package openai owns Izwi's OpenAI-compatible audio routes: the HTTP
// handlers of POST /v1/audio/transcriptions (multipart upload, every
// response format, Server-Sent Events), POST /v1/audio/translations,
// POST /v1/audio/speech (every response format, streamed as it is
// synthesized) and GET /v1/models (every speech model name accepted plus
// the chat models a ChatModels source lists), speaking OpenAI's wire
// formats so its official clients work unchanged.
//
// The handlers run behind the gateway (authentication, scopes, limits are
// checked before they are called); they read the principal only to charge
// audio against its daily quota. Only cmd/izwi builds them, from the loaded
// engine Set. Audio and words stay in memory and never reach a log.
package openai

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Defaults for the zero fields of Options.
const (
	// DefaultMaxUploadBytes is OpenAI's own limit on an uploaded file.
	DefaultMaxUploadBytes int64 = 25 << 20
	// DefaultMaxDuration bounds decoded audio (and so the memory a
	// request holds: 30 min of 44.1 kHz audio is about 320 MB of samples).
	DefaultMaxDuration = 30 * time.Minute
	// DefaultWorkTimeout is how long one request may take to answer once
	// its upload is read; the server's 60 s write timeout is extended to it.
	DefaultWorkTimeout = 10 * time.Minute
	// MaxSpeechInput is OpenAI's limit on the text of one speech request.
	MaxSpeechInput = 4096
	// DefaultMaxSpeechAudio caps the audio one speech request may ask for
	// (Flite stops at 15 min on its own too).
	DefaultMaxSpeechAudio = 15 * time.Minute
)

// AudioQuota charges audio against a principal's daily allowance
// (limit.Limiter implements it).
//
// Contract: CheckAudio refuses when nothing is left today; ChargeAudio
// charges d atomically or refuses without charging. Refusals are
// *limit.Error values.
type AudioQuota interface {
	CheckAudio(ctx context.Context, p auth.Principal) error
	ChargeAudio(ctx context.Context, p auth.Principal, d time.Duration) error
}

var _ AudioQuota = (*limit.Limiter)(nil)

// Model is one entry of GET /v1/models, in OpenAI's shape.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // always "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ChatModels lists the chat models the configured upstreams offer (the chat
// proxy implements it).
//
// Contract: honours ctx; an error leaves the chat models out of the list
// rather than failing it.
type ChatModels interface {
	Models(ctx context.Context) ([]Model, error)
}

// Options are the handlers' dependencies. Nil engines make their routes
// answer 503 not_ready.
type Options struct {
	// Transcriber answers non-streaming transcriptions (role transcribe).
	Transcriber speech.Transcriber
	// Recognizer answers stream=true transcriptions (role asr); without
	// one, streams fall back to the Transcriber, one delta per segment.
	Recognizer speech.Recognizer
	// Synthesizer answers /v1/audio/speech (role tts).
	Synthesizer speech.Synthesizer
	// Quota, if set, is checked before an upload is read and charged with
	// the decoded audio's duration before it is transcribed.
	Quota AudioQuota
	// ChatModels, if set, adds the chat models to GET /v1/models.
	ChatModels ChatModels
	// Speakers, if set, makes a tracker over the enrolled voiceprints of
	// people whose consent stands (only those named, when names are
	// given) for response_format=diarized_json; nil refuses it.
	Speakers func(ctx context.Context, names []string) (SpeakerTracker, error)
	Logger   *slog.Logger

	// MaxUploadBytes caps the uploaded file (413 above it); 0 means
	// DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// MaxDuration caps the decoded audio (400 above it); 0 means
	// DefaultMaxDuration.
	MaxDuration time.Duration
	// MaxSpeechAudio caps the audio one speech request may ask for, checked
	// against the synthesizer's estimate before any byte is sent (413
	// output_too_large above it); 0 means DefaultMaxSpeechAudio.
	MaxSpeechAudio time.Duration
	// WorkTimeout caps one request's processing; 0 means DefaultWorkTimeout.
	WorkTimeout time.Duration
	// Started is reported as every speech model's "created" time (the
	// process start); zero means the time New is called.
	Started time.Time
}

// Handlers serves the routes; build it with New.
type Handlers struct {
	o   Options
	log *slog.Logger
}

// New returns the handlers for opts, with defaults filled in.
func New(opts Options) *Handlers {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.MaxDuration <= 0 {
		opts.MaxDuration = DefaultMaxDuration
	}
	if opts.MaxSpeechAudio <= 0 {
		opts.MaxSpeechAudio = DefaultMaxSpeechAudio
	}
	if opts.WorkTimeout <= 0 {
		opts.WorkTimeout = DefaultWorkTimeout
	}
	if opts.Started.IsZero() {
		opts.Started = time.Now()
	}
	return &Handlers{o: opts, log: opts.Logger}
}

// Transcriptions serves POST /v1/audio/transcriptions.
func (h *Handlers) Transcriptions() http.Handler { return http.HandlerFunc(h.transcribe) }

// Translations serves POST /v1/audio/translations.
func (h *Handlers) Translations() http.Handler { return http.HandlerFunc(h.translate) }

// Speech serves POST /v1/audio/speech.
func (h *Handlers) Speech() http.Handler { return http.HandlerFunc(h.speak) }

// Models serves GET /v1/models.
func (h *Handlers) Models() http.Handler { return http.HandlerFunc(h.models) }
