// Package realtime owns OpenAI's Realtime API as Izwi serves it: the
// WebSocket GET /v1/realtime for transcription sessions. A client (the
// official openai-go or Node SDK, unmodified) sends session.update
// (type "transcription"; the beta transcription_session.update too) and
// input_audio_buffer.append/commit/clear events; Izwi recognises the audio
// with its one pipeline (package recognize, the engine Set's streaming
// Recognizer and VAD) and answers with the server VAD events
// (input_audio_buffer.speech_started, speech_stopped, committed) and
// conversation.item.input_audio_transcription.delta and .completed, or an
// error event whose code comes from the apierr catalogue. Audio and words
// exist only in memory and never reach the logs.
//
// Conversation sessions (session.type "realtime") answer through the chat
// upstream and the synthesizer with converse.Respond, the code
// /v1/converse speaks through: conversation.item.create, response.create
// and response.cancel, the server VAD's own turns (create_response),
// barge-in, and response.created, .output_item.added,
// .content_part.added, .output_audio_transcript.delta, .output_audio.delta
// (24 kHz PCM16) or .output_text.delta, their .done events and
// response.done. They need the chat.read scope besides asr.read.
//
// Over WebRTC (ServeCall, behind package rtc's calls): the same session
// with the call's microphone as its input and the answer's audio on the
// call's track; client secrets (secrets.go, package auth/clientsecret)
// open such calls from browsers without a key.
//
// Wiring (cmd/izwi):
//
//	rt := realtime.NewHandler(realtime.Options{
//		Recognizer: set.Recognizer, VAD: set.VAD,
//		Sessions:   lim,  // *limit.Limiter: a session slot per socket, audio charged
//		Recheck:    same as converse.Options.Recheck,
//		Logger:     log.With("component", "realtime"),
//	})
//	GET /v1/realtime  Scope(asr.read)  rt
//	on shutdown: rt.Close(ctx)
package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/converse"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/streams"
)

// SessionHolder holds one of the principal's concurrent-session slots for
// the life of a request (limit.Limiter.HoldSession); the handler charges
// audio to the slot it finds with limit.SessionFrom.
type SessionHolder interface {
	HoldSession(next http.Handler) http.Handler
}

var _ SessionHolder = (*limit.Limiter)(nil)

// Options are the endpoint's dependencies. Zero fields take defaults.
type Options struct {
	Recognizer speech.Recognizer
	// VAD is optional: without it speech_started waits for the first
	// words, and turns end on silence after words.
	VAD speech.VAD
	// Chat and Synthesizer answer conversation sessions (session.type
	// "realtime"); without either, those are refused with not_ready.
	Chat        converse.Chat
	Synthesizer speech.Synthesizer
	// TranscribeModels are the transcription model names a session may
	// ask for (openai.TranscribeModels); another is refused with the
	// list. Nil accepts any.
	TranscribeModels []string
	// DefaultModel is the chat model when the session names none (or
	// names one of OpenAI's own, gpt-*).
	DefaultModel string
	// ResolveVoice maps a session's voice to an installed voice ID (ok
	// false: the default voice); nil speaks with the default voice.
	ResolveVoice func(asked string, voices []speech.Voice) (id string, ok bool)
	// Sessions holds a session slot per socket; nil: no quota.
	Sessions SessionHolder
	Logger   *slog.Logger
	// Recheck, if set, is asked every RecheckEvery (default 5s) whether
	// the caller may go on (its key not revoked); an error closes the
	// socket with 1008.
	Recheck      func(ctx context.Context, p auth.Principal) error
	RecheckEvery time.Duration
	// IdleTimeout closes a socket whose client sent nothing this long
	// (default 60s), so an abandoned socket does not hold a slot.
	IdleTimeout time.Duration
	// MaxMessage bounds one client message (default 2 MiB: about 30 s of
	// 24 kHz PCM16 in base64), the memory a message may take before it is
	// refused.
	MaxMessage int64
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = 5 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = time.Minute
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 2 << 20
	}
	return o
}

// Conn, Call and Charger are /v1/converse's: a session's message
// connection, a WebRTC call (rtc.Bridge) and its quota slot.
type (
	Conn    = converse.Conn
	Call    = converse.Call
	Charger = converse.Charger
)

// Handler serves GET /v1/realtime. Close ends its sessions.
type Handler struct {
	opts  Options
	inner http.Handler
	open  streams.Set
}

// NewHandler returns the endpoint. Without a streaming recognizer it
// answers 503 not_ready, so the route can always be mounted.
func NewHandler(opts Options) *Handler {
	var sessions converse.SessionHolder
	sessions, opts.Chat, opts.VAD, _ = converse.Usable(opts.Sessions, opts.Chat, opts.VAD, opts.Recognizer)
	opts.Sessions, _ = sessions.(SessionHolder)
	opts = opts.withDefaults()
	h := &Handler{opts: opts}
	h.inner = http.HandlerFunc(h.serve)
	if opts.Sessions != nil {
		h.inner = opts.Sessions.HoldSession(h.inner)
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.inner.ServeHTTP(w, r) }

// Close ends every session (close 1001) and waits for them until ctx
// ends; new ones are refused with 503.
func (h *Handler) Close(ctx context.Context) error { return h.open.Close(ctx) }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		apierr.Write(w, r, apierr.CodeBadRequest, "GET /v1/realtime is a WebSocket")
		return
	}
	if h.opts.Recognizer == nil {
		apierr.Write(w, r, apierr.CodeNotReady, "realtime transcription needs a streaming recognizer")
		return
	}
	if in := r.URL.Query().Get("intent"); in != "" && in != "transcription" {
		apierr.Write(w, r, apierr.CodeUnprocessable, "intent must be transcription, or absent for a conversation")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done, ok := h.open.Add(cancel)
	if !ok {
		apierr.Write(w, r, apierr.CodeNotReady, "the server is shutting down")
		return
	}
	defer done()
	s := newSession(h, r)
	// Credentials are the gateway's (API keys, JWT), never ambient
	// cookies, so Origin is judged there, not here.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(h.opts.MaxMessage)
	s.conn = conn
	s.run(ctx)
}

// ServeCall runs a session over a WebRTC call until it ends: a
// conversation (session.type "realtime") when the server and the key can
// hold one, else a transcription session, then each initial session
// configuration applied in order (a client secret's, the offer's own;
// nil ones skipped); the input format is PCM16 at the call's rate. who is
// the caller; slot (nil: no quota) is charged for the audio.
func (h *Handler) ServeCall(ctx context.Context, c Call, who auth.Principal, slot Charger, requestID string, initial ...[]byte) {
	if h.opts.Recognizer == nil {
		_ = c.Close(websocket.StatusInternalError, "realtime transcription needs a streaming recognizer")
		return
	}
	if requestID == "" {
		requestID = newID("")
	}
	s := h.callSession(&who, c.InputRate())
	s.slot, s.conn, s.media = slot, c, c
	s.log = h.opts.Logger.With("request_id", requestID)
	for _, raw := range initial {
		if raw == nil {
			continue
		}
		next, werr := s.initial(raw)
		if werr != nil {
			_ = c.Close(websocket.StatusPolicyViolation, werr.message)
			return
		}
		s.set = next
	}
	s.run(ctx)
}

// CheckSession vets a call's session configuration (the offer's session
// part) for who before the call is answered, as ServeCall will apply it.
func (h *Handler) CheckSession(who auth.Principal, session []byte) error {
	if _, werr := h.callSession(&who, CallRate).initial(session); werr != nil {
		return &apierr.Error{Code: werr.code, Message: werr.param + ": " + werr.message}
	}
	return nil
}

// callSession is a call's session before its configuration: a
// conversation when the server and who can hold one.
func (h *Handler) callSession(who *auth.Principal, rate int) *session {
	s := &session{h: h, opts: h.opts, sid: newID("sess_"), evSig: make(chan struct{}, 1), set: defaultSettings(), who: who,
		log: h.opts.Logger}
	s.set.format.SampleRate = rate
	if s.canConverse() == nil {
		s.set.conversation = true
	}
	return s
}

// initial is the settings a session configuration (a client secret's)
// asks for, checked as a session.update is.
func (s *session) initial(raw []byte) (settings, *wireError) {
	var c sessionConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return s.set, badParam("session", "session must be a session object")
	}
	return s.next(&c, false)
}

// newID is a random identifier with a prefix (sess_, item_, event_).
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func requestID(r *http.Request) string {
	if id := apierr.RequestID(r.Context()); id != "" {
		return id
	}
	return newID("")
}
