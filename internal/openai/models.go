package openai

import (
	"net/http"
	"slices"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/speech"
)

// ownedBy is the owner every speech model reports.
const ownedBy = "izwi"

// modelID is how a loaded engine appears in /v1/models: "engine/model"
// ("pocketsphinx/en-us", "flite/slt"), or the engine alone when it names
// no model.
func modelID(info speech.EngineInfo) string {
	if info.Model == "" {
		return info.Engine
	}
	return info.Engine + "/" + info.Model
}

// TranscribeAliases are OpenAI's transcription model names (those of the
// official SDK's AudioModel); each picks the loaded transcription engine.
var TranscribeAliases = []string{"whisper-1", "gpt-transcribe", "gpt-4o-transcribe", "gpt-4o-mini-transcribe",
	"gpt-4o-mini-transcribe-2025-12-15", "gpt-4o-transcribe-diarize"}

// SpeechAliases are OpenAI's speech model names (the SDK's SpeechModel);
// each picks the loaded synthesizer.
var SpeechAliases = []string{"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}

func isSpeechAlias(name string) bool { return slices.Contains(SpeechAliases, name) }

// names reports whether the model name a client sent picks info: its
// /v1/models ID, or empty. Every name accepted is listed by /v1/models.
func names(name string, info speech.EngineInfo) bool {
	return name == "" || name == modelID(info)
}

// modelList is OpenAI's list shape.
type modelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}

func (h *Handlers) speechModels() []Model {
	created := h.o.Started.Unix()
	var out []Model
	seen := map[string]bool{}
	alias := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, Model{ID: name, Object: "model", Created: created, OwnedBy: ownedBy})
		}
	}
	add := func(info speech.EngineInfo) { alias(modelID(info)) }
	if h.o.Transcriber != nil || h.o.Recognizer != nil {
		for _, a := range TranscribeAliases {
			alias(a)
		}
	}
	if h.o.Transcriber != nil {
		add(h.o.Transcriber.Info())
	}
	if h.o.Recognizer != nil {
		add(h.o.Recognizer.Info())
	}
	if h.o.Synthesizer != nil {
		for _, a := range SpeechAliases {
			alias(a)
		}
		add(h.o.Synthesizer.Info())
	}
	return out
}

// models serves GET /v1/models: every speech model name a request may
// give (OpenAI's aliases and the loaded engines' IDs), then the chat
// models. A chat source that fails is logged (by request ID only) and left
// out, so the speech models are still listed.
func (h *Handlers) models(w http.ResponseWriter, r *http.Request) {
	list := modelList{Object: "list", Data: h.speechModels()}
	if h.o.ChatModels != nil {
		chat, err := h.o.ChatModels.Models(r.Context())
		if err != nil {
			h.log.Warn("listing chat models failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		}
		for _, m := range chat {
			if m.Object == "" {
				m.Object = "model"
			}
			list.Data = append(list.Data, m)
		}
	}
	if list.Data == nil {
		list.Data = []Model{}
	}
	apierr.JSON(w, http.StatusOK, list)
}
