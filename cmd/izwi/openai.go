package main

// The OpenAI-compatible routes (issue 7): transcriptions, speech and the
// model list from package openai over the loaded engines; chat completions
// and the voice conversation when their handlers are given.

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/openai"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

// openaiDeps are what the OpenAI routes are built from. Zero limits take
// package openai's defaults (25 MB uploads, 30 min of audio).
type openaiDeps struct {
	Engines *engines.Set
	Limiter *limit.Limiter // nil: no quota and no session cap
	// Chat is the chat proxy (nil: chat is off); its handler answers
	// /v1/chat/completions and its models join /v1/models.
	Chat *chat.Proxy
	// Converse answers GET /v1/converse (nil leaves the route out).
	Converse       http.Handler
	MaxUploadBytes int64
	MaxDuration    time.Duration
	Logger         *slog.Logger
}

// buildOpenAI assembles api.OpenAIHandlers. Transcriptions and speech each
// hold one of the caller's concurrent-session slots while they run
// ([limits] max_sessions), so one key cannot pin the engines or memory
// with parallel uploads.
func buildOpenAI(d openaiDeps) *api.OpenAIHandlers {
	o := openai.Options{Transcriber: d.Engines.Transcriber, Recognizer: d.Engines.Recognizer, Synthesizer: d.Engines.Synthesizer,
		MaxUploadBytes: d.MaxUploadBytes, MaxDuration: d.MaxDuration, Logger: telemetry.Component(d.Logger, "openai")}
	if d.Limiter != nil {
		o.Quota = d.Limiter
	}
	if d.Chat != nil {
		o.ChatModels = chatModels{d.Chat}
	}
	h := openai.New(o)
	out := &api.OpenAIHandlers{Transcriptions: h.Transcriptions(), Speech: h.Speech(), Models: h.Models(), Converse: d.Converse}
	if d.Limiter != nil {
		out.Transcriptions, out.Speech = d.Limiter.HoldSession(out.Transcriptions), d.Limiter.HoldSession(out.Speech)
	}
	if d.Chat != nil {
		out.Chat = d.Chat.Handler()
	}
	return out
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
