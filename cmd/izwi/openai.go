package main

// The OpenAI-compatible routes (issue 7): transcriptions, speech and the
// model list (package openai) over the loaded engines; chat completions
// (package chat) and the voice conversation (package converse) over the
// [chat] upstreams.

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/clientsecret"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/converse"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/openai"
	"github.com/izwi-speech/izwi/internal/realtime"
	"github.com/izwi-speech/izwi/internal/rtc"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speak"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// openaiDeps are what the OpenAI routes are built from.
type openaiDeps struct {
	// Chat is the proxy buildChat made; nil (no upstream) leaves
	// /v1/chat/completions out (and /v1/converse answers 503).
	Chat    *chat.Proxy
	Engines *engines.Set
	// Limiter charges audio and chat tokens and caps concurrent sessions;
	// nil enforces nothing.
	Limiter *limit.Limiter
	// Registerer receives the chat and converse metrics (nil: none).
	Registerer prometheus.Registerer
	// Zero limits take package openai's defaults (25 MB uploads, 30 min
	// of audio).
	MaxUploadBytes int64
	MaxDuration    time.Duration
	// Recheck ends a conversation whose key was revoked (nil: never).
	Recheck func(ctx context.Context, p auth.Principal) error
	// Speakers makes trackers for diarized_json (nil: refused).
	Speakers func(ctx context.Context, names []string) (openai.SpeakerTracker, error)
	// ClientSecrets holds the Realtime API's ephemeral client secrets
	// (the gateway's authenticator redeems them).
	ClientSecrets *clientsecret.Store
	// RTC serves the Realtime API and conversations over WebRTC (nil:
	// [webrtc] is off, those routes are left out).
	RTC    *rtc.Handler
	Logger *slog.Logger
}

// openaiSurface is the routes and what must be closed on shutdown.
type openaiSurface struct {
	routes   *api.OpenAIHandlers
	converse *converse.Handler
	speak    *speak.Handler
	realtime *realtime.Handler
}

// close ends open conversations, speak sockets and realtime sessions
// (close 1001): their WebSockets are hijacked, so http.Server.Shutdown does
// not wait for them.
func (s *openaiSurface) close(ctx context.Context) error {
	return errors.Join(s.converse.Close(ctx), s.speak.Close(ctx), s.realtime.Close(ctx))
}

// buildChat builds the chat proxy the OpenAI routes, conversations and
// live translation share; nil when [chat] has no upstream.
func buildChat(cfg config.Chat, lim *limit.Limiter, reg prometheus.Registerer, logger *slog.Logger) (*chat.Proxy, error) {
	co := chat.Options{Config: cfg, Secrets: secrets.Source{LookupEnv: os.LookupEnv},
		Logger: telemetry.Component(logger, "chat"), Registerer: reg}
	if lim != nil { // never a typed nil inside an interface
		co.Limiter = lim
	}
	return chat.NewProxy(co)
}

// buildOpenAI assembles the OpenAI-compatible routes. Transcriptions and
// speech each hold one of the caller's concurrent-session slots while they
// run ([limits] max_sessions), so one key cannot pin the engines or memory
// with parallel uploads; conversations hold one too (package converse).
func buildOpenAI(d openaiDeps) (*openaiSurface, error) {
	set := d.Engines
	o := openai.Options{Transcriber: set.Transcriber, Recognizer: set.Recognizer, Synthesizer: set.Synthesizer,
		MaxUploadBytes: d.MaxUploadBytes, MaxDuration: d.MaxDuration, Logger: telemetry.Component(d.Logger, "openai"),
		Speakers: d.Speakers}
	cvo := converse.Options{Recognizer: set.Recognizer, VAD: set.VAD, Synthesizer: set.Synthesizer,
		Logger: telemetry.Component(d.Logger, "converse"), Registerer: d.Registerer,
		ResolveVoice: openai.ResolveVoice, Recheck: d.Recheck}
	rto := realtime.Options{Recognizer: set.Recognizer, VAD: set.VAD, Synthesizer: set.Synthesizer, Recheck: d.Recheck,
		TranscribeModels: openai.TranscribeModels(set.Transcriber, set.Recognizer),
		ResolveVoice:     openai.ResolveVoice, Logger: telemetry.Component(d.Logger, "realtime")}
	if d.Limiter != nil { // never a typed nil inside an interface
		o.Quota, cvo.Sessions, rto.Sessions = d.Limiter, d.Limiter, d.Limiter
	}
	px := d.Chat
	if px != nil {
		o.ChatModels, cvo.Chat, rto.Chat = chatModels{px}, px, px
	}
	h := openai.New(o)
	cv := converse.NewHandler(cvo)
	sp := speak.New(speak.Options{Synthesizer: set.Synthesizer, Logger: telemetry.Component(d.Logger, "speak"), Recheck: d.Recheck})
	rt := realtime.NewHandler(rto)
	out := &api.OpenAIHandlers{Transcriptions: h.Transcriptions(), Translations: h.Translations(), Speech: h.Speech(),
		Models: h.Models(), Converse: cv, Speak: sp, SpeakSocket: sp.Socket(), Realtime: rt}
	if d.Limiter != nil {
		out.Transcriptions, out.Speech = d.Limiter.HoldSession(out.Transcriptions), d.Limiter.HoldSession(out.Speech)
		out.Translations, out.Speak = d.Limiter.HoldSession(out.Translations), d.Limiter.HoldSession(out.Speak)
		out.SpeakSocket = d.Limiter.HoldSession(out.SpeakSocket)
	}
	if px != nil {
		out.Chat = px.Handler()
	}
	if d.RTC != nil && d.ClientSecrets != nil {
		out.RealtimeClientSecrets, out.RealtimeSessions = rt.ClientSecrets(d.ClientSecrets), rt.BetaSessions(d.ClientSecrets)
	}
	if d.RTC != nil {
		out.RealtimeCalls = d.RTC.Calls(rtc.CallOptions{Label: "oai-events", InputRate: realtime.CallRate, Location: "/v1/realtime/calls/",
			Check: rt.CheckSession,
			Serve: func(ctx context.Context, b *rtc.Bridge, who auth.Principal, slot livehttp.Slot, session []byte) {
				// A client secret's session first, then the offer's own.
				rt.ServeCall(ctx, b, who, charger(slot), apierr.RequestID(ctx), d.ClientSecrets.Session(who), session)
			}})
		out.ConverseCalls = d.RTC.Calls(rtc.CallOptions{Label: "converse", InputRate: 16000, Location: "/v1/converse/calls/",
			Serve: func(ctx context.Context, b *rtc.Bridge, who auth.Principal, slot livehttp.Slot, _ []byte) {
				cv.ServeCall(ctx, b, who, charger(slot), apierr.RequestID(ctx))
			}})
	}
	return &openaiSurface{routes: out, converse: cv, speak: sp, realtime: rt}, nil
}

// charger is a call's slot as the sessions charge it (nil: no quota,
// never a typed nil).
func charger(slot livehttp.Slot) converse.Charger {
	if slot == nil {
		return nil
	}
	return slot
}

// chatModels adapts the chat proxy's model list to /v1/models.
type chatModels struct{ p *chat.Proxy }

var _ openai.ChatModels = chatModels{}

func (c chatModels) Models(ctx context.Context) ([]openai.Model, error) {
	ms, err := c.p.Models(ctx)
	out := make([]openai.Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, openai.Model{ID: m.ID, Object: "model", OwnedBy: m.OwnedBy})
	}
	return out, err
}
