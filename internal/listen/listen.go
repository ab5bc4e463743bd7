// Package listen owns Izwi's Deepgram-compatible speech-to-text endpoints:
// the streaming WebSocket GET /v1/listen (Deepgram's live API: query
// parameters, KeepAlive/Finalize/CloseStream, Results, UtteranceEnd,
// SpeechStarted and Metadata messages, the 10-second idle timeout) and the
// pre-recorded POST /v1/listen (raw audio body in, Deepgram's JSON out).
// Clients written for Deepgram, its official SDKs included, work by
// pointing them at Izwi. Access (scope asr.read) is the gateway's; this
// package gets authenticated requests. Only cmd/izwi wires it.
package listen

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Defaults for zero Options fields.
const (
	DefaultIdleTimeout = 10 * time.Second // Deepgram's NET-0001 window
	// A pre-recorded upload is bounded as /v1/audio/transcriptions is: 25
	// MB (OpenAI's limit) and 30 min of audio.
	DefaultMaxFileBytes = 25 << 20
	DefaultMaxFileAudio = 30 * time.Minute
	defaultIdleCheck    = time.Second
	defaultRecheck      = 5 * time.Second
	maxMessageBytes     = 1 << 20 // one WebSocket message
)

// AudioCharger charges audio to a principal's daily quota before it is
// processed (limit.Limiter does).
//
// Contract: CheckAudio refuses when nothing is left today (before an
// upload is read); ChargeAudio charges d atomically or refuses without
// charging.
type AudioCharger interface {
	CheckAudio(ctx context.Context, p auth.Principal) error
	ChargeAudio(ctx context.Context, p auth.Principal, d time.Duration) error
}

// SessionHolder holds one of the principal's concurrent-session slots for
// the life of a request (limit.Limiter.HoldSession).
type SessionHolder interface {
	HoldSession(next http.Handler) http.Handler
}

// Options are the endpoints' dependencies. Zero fields take defaults; a nil
// engine makes its endpoint answer 503 not_ready.
type Options struct {
	Logger *slog.Logger
	// Recognizer and VAD drive the streaming endpoint; Transcriber the
	// pre-recorded one (engines.Set fields).
	Recognizer  speech.Recognizer
	VAD         speech.VAD
	Transcriber speech.Transcriber
	// Pipeline builds a stream's recognition pipeline; nil uses
	// NewEnginePipeline over Recognizer and VAD.
	Pipeline PipelineFactory
	// Sessions holds a session slot per stream and Charger charges file
	// audio (both limit.Limiter); nil skips quota enforcement.
	Sessions SessionHolder
	Charger  AudioCharger
	// Now is the clock of the idle timeout and metadata (time.Now if nil).
	Now func() time.Time
	// IdleTimeout closes a stream that sends neither audio nor KeepAlive
	// for this long (Deepgram: 10 s). IdleCheck is how often it is checked.
	IdleTimeout, IdleCheck time.Duration
	// Recheck, if set, is asked every RecheckEvery (default 5 s) whether
	// an open stream's principal may still stream (its key not revoked);
	// an error closes the stream with 1008. A credential's own expiry is
	// enforced without it.
	Recheck      func(ctx context.Context, p auth.Principal) error
	RecheckEvery time.Duration
	// MaxFileBytes and MaxFileAudio bound a pre-recorded upload.
	MaxFileBytes int64
	MaxFileAudio time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.IdleCheck <= 0 {
		o.IdleCheck = defaultIdleCheck
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = defaultRecheck
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxFileAudio <= 0 {
		o.MaxFileAudio = DefaultMaxFileAudio
	}
	if o.Pipeline == nil && o.Recognizer != nil {
		o.Pipeline = EnginePipeline(o.Recognizer, o.VAD)
	}
	return o
}

// Handler is the streaming endpoint, GET /v1/listen, for
// api.LiveHandlers.Listen. Its streams are hijacked connections that
// http.Server.Shutdown neither tracks nor ends: Close ends them.
type Handler struct {
	inner http.Handler
	sh    *streamHandler
}

// NewHandler returns the streaming endpoint. It holds a session slot per
// stream when opts.Sessions is set.
func NewHandler(opts Options) *Handler {
	opts = opts.withDefaults()
	sh := &streamHandler{opts: opts}
	var h http.Handler = sh
	if opts.Sessions != nil {
		h = opts.Sessions.HoldSession(h)
	}
	return &Handler{inner: h, sh: sh}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.inner.ServeHTTP(w, r) }

// Close ends every open stream with 1001 (going away) after flushing its
// last results, refuses new ones with 503, and waits for them until ctx
// ends.
func (h *Handler) Close(ctx context.Context) error {
	return h.sh.shutdown(ctx)
}

// NewFileHandler returns the pre-recorded endpoint, POST /v1/listen, for
// api.LiveHandlers.ListenFile. It holds a session slot for the life of
// each request when opts.Sessions is set, taken before the body is read.
func NewFileHandler(opts Options) http.Handler {
	opts = opts.withDefaults()
	var h http.Handler = &fileHandler{opts: opts}
	if opts.Sessions != nil {
		h = opts.Sessions.HoldSession(h)
	}
	// A body declared over the limit is refused before it costs a slot.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > opts.MaxFileBytes {
			writeError(w, r, apierr.CodePayloadTooLarge, fmt.Sprintf("the audio exceeds %d bytes", opts.MaxFileBytes))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// modelOf describes an engine in Deepgram's model_info terms, with a
// stable UUID derived from the engine and model names.
func modelOf(info speech.EngineInfo) (string, ModelInfo) {
	uuid := speech.ModelUUID(info)
	version := info.Library
	if version == "" {
		version = "unknown"
	}
	name := info.Model
	if name == "" {
		name = info.Engine
	}
	return uuid, ModelInfo{Name: name, Version: version, Arch: info.Engine}
}

// writeError answers a refused request before any upgrade.
func writeError(w http.ResponseWriter, r *http.Request, code apierr.Code, msg string) {
	apierr.WriteDeepgram(w, r, code, msg)
}

// mustJSON encodes a message the package itself built.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("listen: encoding " + fmt.Sprintf("%T", v) + ": " + err.Error())
	}
	return b
}
