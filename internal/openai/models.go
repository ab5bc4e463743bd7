package openai

import (
	"net/http"
	"strings"

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

// isTranscribeAlias reports whether name is one of OpenAI's transcription
// models (whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe, ...), all of
// which map to the loaded engine.
func isTranscribeAlias(name string) bool {
	return name == "whisper-1" || (strings.HasPrefix(name, "gpt-") && strings.Contains(name, "transcribe"))
}

// isSpeechAlias reports whether name is one of OpenAI's speech models
// (tts-1, tts-1-hd, gpt-4o-mini-tts, ...).
func isSpeechAlias(name string) bool {
	return name == "tts-1" || name == "tts-1-hd" || (strings.HasPrefix(name, "gpt-") && strings.Contains(name, "tts"))
}

// names reports whether the model name a client sent picks info: its
// /v1/models ID, its engine name or its model name. Empty picks it too.
func names(name string, info speech.EngineInfo) bool {
	return name == "" || name == modelID(info) || name == info.Engine || (info.Model != "" && name == info.Model)
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
	add := func(info speech.EngineInfo) {
		id := modelID(info)
		if !seen[id] {
			seen[id] = true
			out = append(out, Model{ID: id, Object: "model", Created: created, OwnedBy: ownedBy})
		}
	}
	if h.o.Transcriber != nil {
		add(h.o.Transcriber.Info())
	}
	if h.o.Recognizer != nil {
		add(h.o.Recognizer.Info())
	}
	if h.o.Synthesizer != nil {
		add(h.o.Synthesizer.Info())
	}
	return out
}

// models serves GET /v1/models: the loaded speech models, then the chat
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
