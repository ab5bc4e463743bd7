package openai

import (
	"slices"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/speech"
)

// checkLanguage honours the language a client named or refuses it: a
// malformed tag is 400 bad_request; a language the engine does not hear
// (its EngineInfo.Languages) is 400 unsupported_language, never ignored.
// It returns the primary subtag, lower-cased, for the engine.
func checkLanguage(lang string, info speech.EngineInfo) (string, error) {
	primary, err := speech.PrimaryLanguage(lang)
	if err != nil {
		return "", bad("language %q is not an ISO 639-1 code such as en", clip(lang))
	}
	if !info.Hears(primary) {
		return "", &reqError{apierr.CodeUnsupportedLanguage, "the engine " + modelID(info) + " hears " +
			strings.Join(info.Languages, ", ") + ", not " + primary}
	}
	return primary, nil
}

// checkTranslation decides whether the engine's words are already English,
// which is all /v1/audio/translations can promise: Izwi does not translate
// speech. An engine that hears only English answers in English whatever
// was said (speech in another language comes out as the English words
// it resembles); an engine that hears other languages is refused.
func checkTranslation(info speech.EngineInfo) error {
	if slices.Equal(info.Languages, []string{"en"}) {
		return nil
	}
	heard := "many languages"
	if len(info.Languages) > 0 {
		heard = strings.Join(info.Languages, ", ")
	}
	return &reqError{apierr.CodeUnsupportedLanguage, "the engine " + modelID(info) + " hears " + heard +
		" and Izwi does not translate speech; use /v1/audio/transcriptions"}
}
