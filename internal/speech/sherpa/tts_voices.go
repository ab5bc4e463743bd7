package sherpa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// maxVoices bounds the voice table parsed from catalogue metadata.
const maxVoices = 1024

// parseVoices builds the voice table of a TTS model. spec is the catalogue
// meta "voices": comma-separated "id" or "id:gender" entries, the i-th one
// being speaker id i. An empty spec names speakers "0".."n-1". Voice ids are
// 1–64 characters of [A-Za-z0-9_.-]; duplicates and more entries than the
// model has speakers (n, where 0 or 1 means a single voice) are refused.
// gender (catalogue meta) applies to unnamed voices.
func parseVoices(spec string, n int, language, gender string) ([]speech.Voice, error) {
	n = max(n, 1)
	if n > maxVoices {
		return nil, fmt.Errorf("sherpa: tts: model reports %d speakers (max %d): %w", n, maxVoices, speech.ErrModel)
	}
	if strings.TrimSpace(spec) == "" {
		voices := make([]speech.Voice, n)
		for i := range voices {
			id := strconv.Itoa(i)
			voices[i] = speech.Voice{ID: id, Name: "speaker " + id, Language: language, Gender: gender}
		}
		return voices, nil
	}
	entries := strings.Split(spec, ",")
	if len(entries) > n {
		return nil, fmt.Errorf("sherpa: tts: %d voices named but the model has %d speakers: %w", len(entries), n, speech.ErrModel)
	}
	seen := make(map[string]bool, len(entries))
	voices := make([]speech.Voice, 0, len(entries))
	for i, e := range entries {
		id, gender, _ := strings.Cut(strings.TrimSpace(e), ":")
		if !validVoiceID(id) {
			return nil, fmt.Errorf("sherpa: tts: voice %d: bad id %q: %w", i, id, speech.ErrModel)
		}
		switch gender {
		case "", "female", "male", "neutral":
		default:
			return nil, fmt.Errorf("sherpa: tts: voice %q: bad gender %q: %w", id, gender, speech.ErrModel)
		}
		if seen[id] {
			return nil, fmt.Errorf("sherpa: tts: voice %q listed twice: %w", id, speech.ErrModel)
		}
		seen[id] = true
		voices = append(voices, speech.Voice{ID: id, Name: id, Language: language, Gender: gender})
	}
	return voices, nil
}

func validVoiceID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// speakerID maps a requested voice to the model's speaker id; "" is voice 0.
func speakerID(voices []speech.Voice, voice string) (int, error) {
	if voice == "" {
		return 0, nil
	}
	for i, v := range voices {
		if v.ID == voice {
			return i, nil
		}
	}
	return 0, fmt.Errorf("sherpa: tts: unknown voice %q: %w", voice, speech.ErrBadInput)
}
