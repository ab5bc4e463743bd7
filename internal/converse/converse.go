// Package converse owns the voice conversation endpoint, WS /v1/converse:
// the caller's audio goes through voice activity detection and streaming
// recognition (a recognize.Async pipeline over the engine Set's Recognizer and VAD);
// each finished utterance becomes a chat turn (package chat, streamed, with
// a bounded history); the answer is synthesized sentence by sentence (the
// Set's Synthesizer) and streamed back as PCM16 audio, paced at playback
// speed so that barge-in (the user speaking over the reply) can stop it at
// once. Audio, transcripts and answers exist only in memory and never reach
// the logs.
//
// Protocol: the client's first text message is
// {"type":"config","sample_rate":16000,"model":"<chat model>","voice":"<tts voice>","system":"..."};
// then binary PCM16 LE mono audio at sample_rate, and optionally the text
// messages {"type":"cancel"} (stop the reply) and {"type":"stop"} (end).
// The server sends JSON events (ready, transcript, response.delta,
// response.done, audio.start, audio.done, turn.metrics, barge_in, error)
// and binary PCM16 LE mono reply audio at the rate ready declares.
//
// Wiring (cmd/izwi, slice E1 and the lead):
//
//	cv := converse.NewHandler(converse.Options{
//		Recognizer:  set.Recognizer,  // engines.Set
//		VAD:         set.VAD,         // optional; without it barge-in waits for words
//		Synthesizer: set.Synthesizer,
//		Chat:        px,              // *chat.Proxy (nil: the route answers 503)
//		Sessions:    lim,             // *limit.Limiter: a session slot per conversation, audio charged
//		Logger:      log.With("component", "converse"),
//		Registerer:  metrics.Registry(),
//		Recheck:     same as listen.Options.Recheck (is the key still valid?), if wired there
//	})
//	GET /v1/converse  Scope(chat.read)  cv
//	on shutdown: cv.Close(ctx) (its WebSockets are hijacked; Server.Shutdown does not wait for them)
package converse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/streams"
)

// Chat runs one streamed chat completion (chat.Proxy does, with the
// caller's token limits).
type Chat interface {
	Stream(ctx context.Context, who *auth.Principal, model string, msgs []chat.Message, delta func(string) error) (chat.Usage, error)
}

var _ Chat = (*chat.Proxy)(nil)

// SessionHolder holds one of the principal's concurrent-session slots for
// the life of a request (limit.Limiter.HoldSession); the handler charges
// audio to the slot it finds with limit.SessionFrom.
type SessionHolder interface {
	HoldSession(next http.Handler) http.Handler
}

// Options are the endpoint's dependencies. Zero fields take defaults.
type Options struct {
	Recognizer  speech.Recognizer
	VAD         speech.VAD
	Synthesizer speech.Synthesizer
	Chat        Chat
	// DefaultModel is used when the config message names none.
	DefaultModel string
	// ResolveVoice maps the config's voice to an installed voice ID (ok
	// false refuses it); nil matches installed IDs, ignoring case. Package
	// openai's mapping of OpenAI's voice names fits here once exported.
	ResolveVoice func(asked string, voices []speech.Voice) (id string, ok bool)
	// Sessions holds a session slot per conversation; nil: no quota.
	Sessions SessionHolder
	Logger   *slog.Logger
	// Registerer, if set, receives the turn-latency histogram.
	Registerer prometheus.Registerer
	// MaxHistory bounds the messages (user and assistant) kept for context.
	// Default 16.
	MaxHistory int
	// Pace is how many times faster than real time reply audio may be sent
	// (default 1: playback speed); Lead is how far ahead of playback it may
	// run (default 300ms). Barge-in can only stop audio not yet sent.
	Pace float64
	Lead time.Duration
	// UtteranceEndGap is the silence after words that ends the user's turn
	// (default 700ms).
	UtteranceEndGap time.Duration
	// ConfigTimeout bounds the wait for the first message (default 10s).
	ConfigTimeout time.Duration
	// Recheck, if set, is asked every RecheckEvery (default 5s) whether the
	// caller may still converse (its key not revoked); an error closes the
	// conversation with 1008. A credential's own expiry is enforced
	// without it.
	Recheck      func(ctx context.Context, p auth.Principal) error
	RecheckEvery time.Duration
	// IdleTimeout closes a conversation whose client has sent nothing for
	// this long while no reply is playing (default 60s), so an abandoned
	// socket does not hold a session slot.
	IdleTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ResolveVoice == nil {
		o.ResolveVoice = matchVoice
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = 16
	}
	if o.Pace <= 0 {
		o.Pace = 1
	}
	if o.Lead <= 0 {
		o.Lead = 300 * time.Millisecond
	}
	if o.UtteranceEndGap <= 0 {
		o.UtteranceEndGap = 700 * time.Millisecond
	}
	if o.ConfigTimeout <= 0 {
		o.ConfigTimeout = 10 * time.Second
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = time.Minute
	}
	return o
}

// Usable returns a voice endpoint's dependencies (a conversation's, a
// Realtime session's) with what cannot serve dropped: a typed-nil limiter
// or chat proxy (a build without limits or without an upstream) becomes
// nil, and a VAD at another rate than the recognizer's is dropped, since
// the pipeline needs one rate (droppedVAD says so).
func Usable(sessions SessionHolder, ch Chat, vad speech.VAD, rec speech.Recognizer) (SessionHolder, Chat, speech.VAD, bool) {
	if l, ok := sessions.(*limit.Limiter); ok && l == nil {
		sessions = nil
	}
	if p, ok := ch.(*chat.Proxy); ok && p == nil {
		ch = nil
	}
	if vad != nil && rec != nil && vad.SampleRate() != rec.SampleRate() {
		return sessions, ch, nil, true
	}
	return sessions, ch, vad, false
}

// Handler serves WS /v1/converse. Close ends its conversations.
type Handler struct {
	opts    Options
	inner   http.Handler
	metrics *metrics

	open streams.Set
}

// NewHandler returns the endpoint. A missing engine or chat upstream makes
// it answer 503 not_ready rather than fail here, so the route can always be
// mounted.
func NewHandler(opts Options) *Handler {
	var droppedVAD bool
	vad := opts.VAD
	opts.Sessions, opts.Chat, opts.VAD, droppedVAD = Usable(opts.Sessions, opts.Chat, opts.VAD, opts.Recognizer)
	if droppedVAD && opts.Logger != nil {
		// Without the VAD, turns end and barge-in starts on recognised words instead.
		opts.Logger.Warn("converse: the VAD's rate differs from the recognizer's; conversations run without it",
			"vad_rate", vad.SampleRate(), "recognizer_rate", opts.Recognizer.SampleRate())
	}
	opts = opts.withDefaults()
	h := &Handler{opts: opts}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		opts.Logger.Warn("converse: metrics not registered", "err", err)
	}
	h.metrics = m
	var inner http.Handler = http.HandlerFunc(h.serve)
	if opts.Sessions != nil {
		inner = opts.Sessions.HoldSession(inner)
	}
	h.inner = inner
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.inner.ServeHTTP(w, r) }

// Close ends every conversation (close code 1001) and waits for them until
// ctx ends; new ones are refused with 503.
func (h *Handler) Close(ctx context.Context) error { return h.open.Close(ctx) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		apierr.Write(w, r, apierr.CodeBadRequest, "GET /v1/converse is a WebSocket")
		return
	}
	o := h.opts
	if o.Recognizer == nil || o.Synthesizer == nil || o.Chat == nil {
		apierr.Write(w, r, apierr.CodeNotReady, "voice conversations need a streaming recognizer, a synthesizer and a chat upstream")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := newSession(h, r, cancel)
	done, ok := h.open.Add(cancel)
	if !ok {
		apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	defer done()
	// Credentials are the gateway's (API keys, JWT, tickets), never ambient
	// cookies, so Origin is judged there, not here.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(1 << 20)
	s.conn = conn
	s.run(ctx)
}

func requestID(r *http.Request) string {
	if id := apierr.RequestID(r.Context()); id != "" {
		return id
	}
	return newRequestID()
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// matchVoice accepts an installed voice ID in any case; "" is the default.
func matchVoice(asked string, voices []speech.Voice) (string, bool) {
	if asked == "" {
		return "", true
	}
	for _, v := range voices {
		if strings.EqualFold(v.ID, asked) {
			return v.ID, true
		}
	}
	return "", false
}
