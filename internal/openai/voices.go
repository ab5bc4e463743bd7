package openai

import (
	"slices"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// OpenAI's voices, grouped by the gender OpenAI's own samples present, in
// OpenAI's order. Each maps to an installed voice of that gender: the
// n-th name of a group takes the (n mod k)-th of the k installed voices
// of that gender (all voices when none has it), so the mapping is fixed
// for a given engine. With Flite: the female names all speak "slt"; the
// male names rotate over "kal16", "rms" and "awb" (docs/api.md lists it).
func openAIVoices() (female, male []string) {
	return []string{"alloy", "coral", "nova", "sage", "shimmer", "marin"},
		[]string{"ash", "ballad", "cedar", "echo", "fable", "onyx", "verse"}
}

// ResolveVoice maps what a client asked for to a voice ID of voices: an
// installed voice ID as is (any case), an OpenAI name through the table
// above, "" to the engine's default. ok is false for anything else.
func ResolveVoice(asked string, voices []speech.Voice) (id string, ok bool) {
	if asked == "" {
		return "", true
	}
	for _, v := range voices {
		if strings.EqualFold(v.ID, asked) {
			return v.ID, true
		}
	}
	if len(voices) == 0 {
		return "", false
	}
	female, male := openAIVoices()
	name := strings.ToLower(asked)
	group, gender := female, "female"
	if slices.Contains(male, name) {
		group, gender = male, "male"
	} else if !slices.Contains(female, name) {
		return "", false
	}
	var pool []string
	for _, v := range voices {
		if strings.EqualFold(v.Gender, gender) {
			pool = append(pool, v.ID)
		}
	}
	if len(pool) == 0 {
		for _, v := range voices {
			pool = append(pool, v.ID)
		}
	}
	return pool[slices.Index(group, name)%len(pool)], true
}

// voiceNames lists what a client may send, for refusals.
func voiceNames(voices []speech.Voice) string {
	female, male := openAIVoices()
	var ids []string
	for _, v := range voices {
		ids = append(ids, v.ID)
	}
	return strings.Join(append(append(ids, female...), male...), ", ")
}
