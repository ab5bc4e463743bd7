package api

import (
	"net/http"

	"github.com/izwi-speech/izwi/internal/auth"
)

// OpenAIHandlers are the OpenAI-compatible routes (issue 7). Package openai
// builds the audio and model handlers, the chat proxy builds Chat and the
// voice conversation builds Converse; the access of each is declared here,
// in openaiRoutes, with the rest of the table. A nil field leaves its route
// out.
type OpenAIHandlers struct {
	// Transcriptions is POST /v1/audio/transcriptions (multipart upload).
	Transcriptions http.Handler
	// Translations is POST /v1/audio/translations (multipart upload).
	Translations http.Handler
	// Speech is POST /v1/audio/speech (audio streamed as it is made).
	Speech http.Handler
	// Models is GET /v1/models: speech models and upstream chat models.
	Models http.Handler
	// Chat is POST /v1/chat/completions, proxied to an upstream.
	Chat http.Handler
	// Converse is the voice-conversation WebSocket.
	Converse http.Handler
	// Speak is Deepgram's POST /v1/speak, built from the same synthesizer
	// as Speech (package speak); SpeakSocket its WebSocket (GET /v1/speak).
	Speak       http.Handler
	SpeakSocket http.Handler
	// Realtime is OpenAI's Realtime API WebSocket (transcription
	// sessions), package realtime.
	Realtime http.Handler
	// RealtimeCalls is the Realtime API over WebRTC: the caller POSTs
	// its SDP offer and gets the answer (package rtc, calls served by
	// package realtime); the beta's POST /v1/realtime is the same.
	RealtimeCalls http.Handler
	// RealtimeClientSecrets mints the ephemeral client secrets a browser
	// opens a call with (POST /v1/realtime/client_secrets); the beta's
	// RealtimeSessions (POST /v1/realtime/sessions) too.
	RealtimeClientSecrets http.Handler
	RealtimeSessions      http.Handler
	// ConverseCalls is /v1/converse over WebRTC: the same offer and
	// answer, the conversation's events on its "converse" data channel
	// and the reply as an Opus track.
	ConverseCalls http.Handler
}

// openaiRoutes declares the OpenAI-compatible routes' access.
func openaiRoutes(h *OpenAIHandlers) []Route {
	if h == nil {
		return nil
	}
	all := []Route{
		{Method: http.MethodPost, Pattern: "/v1/audio/transcriptions", Access: Scope(auth.ScopeASRRead), Handler: h.Transcriptions},
		{Method: http.MethodPost, Pattern: "/v1/audio/translations", Access: Scope(auth.ScopeASRRead), Handler: h.Translations},
		{Method: http.MethodPost, Pattern: "/v1/audio/speech", Access: Scope(auth.ScopeTTSRead), Handler: h.Speech},
		{Method: http.MethodGet, Pattern: "/v1/models", Access: Authenticated, Handler: h.Models},
		{Method: http.MethodPost, Pattern: "/v1/chat/completions", Access: Scope(auth.ScopeChatRead), Handler: h.Chat},
		{Method: http.MethodGet, Pattern: "/v1/converse", Access: Scope(auth.ScopeChatRead), Handler: h.Converse},
		{Method: http.MethodPost, Pattern: "/v1/converse/calls", Access: Scope(auth.ScopeChatRead), Handler: h.ConverseCalls},
		{Method: http.MethodPost, Pattern: "/v1/speak", Access: Scope(auth.ScopeTTSRead), Handler: h.Speak},
		{Method: http.MethodGet, Pattern: "/v1/speak", Access: Scope(auth.ScopeTTSRead), Handler: h.SpeakSocket},
		{Method: http.MethodGet, Pattern: "/v1/realtime", Access: Scope(auth.ScopeASRRead), Handler: h.Realtime},
		{Method: http.MethodPost, Pattern: "/v1/realtime/calls", Access: Scope(auth.ScopeASRRead), Handler: h.RealtimeCalls},
		{Method: http.MethodPost, Pattern: "/v1/realtime", Access: Scope(auth.ScopeASRRead), Handler: h.RealtimeCalls},
		{Method: http.MethodPost, Pattern: "/v1/realtime/client_secrets", Access: Scope(auth.ScopeASRRead), Handler: h.RealtimeClientSecrets},
		{Method: http.MethodPost, Pattern: "/v1/realtime/sessions", Access: Scope(auth.ScopeASRRead), Handler: h.RealtimeSessions},
	}
	var out []Route
	for _, rt := range all {
		if rt.Handler != nil {
			out = append(out, rt)
		}
	}
	return out
}
