// Package translate owns the translation engine role: the Engine contract
// every machine-translation engine implements (Apertium from Debian in
// translate/apertium, an OpenAI-compatible chat model in translate/chatmt),
// language codes and pairs, and the Service that picks an engine for a pair,
// shares one translation among every viewer asking for it (a bounded cache
// and single flight) and falls back to the source text when an engine fails,
// so a viewer is never shown nothing. Text is never logged.
//
// It imports no engine, no HTTP and nothing of live sessions: cmd/izwi
// builds the engines and hands them to NewService; translate/livetranslate
// applies the service to caption feeds.
package translate

import (
	"context"
	"errors"
	"strings"
)

// Pair is one translation direction, as ISO 639-1 codes ("en" → "es").
type Pair struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (p Pair) String() string { return p.From + "-" + p.To }

// Engine translates text from one language to another.
//
// Contract: Pairs lists the directions the engine serves; nil means any
// pair of valid codes (a general chat model). Translate honours ctx (a
// cancelled call returns promptly with an error wrapping ctx.Err()),
// returns ErrUnsupported for a pair it does not serve, ErrUnavailable when
// it cannot serve now (a process that failed, an upstream down), and never
// returns an empty translation for a non-empty text without an error. It is
// safe for concurrent use.
type Engine interface {
	Name() string
	Pairs() []Pair
	Translate(ctx context.Context, p Pair, text string) (string, error)
}

// Errors engines wrap.
var (
	ErrUnsupported = errors.New("translate: unsupported language pair")
	ErrUnavailable = errors.New("translate: engine unavailable")
	ErrTooLong     = errors.New("translate: text too long")
	// ErrOverQuota means the payer (see WithPayer) is over a chat-token
	// quota: the engine refused before calling out.
	ErrOverQuota = errors.New("translate: the payer is over quota")
)

// MaxTextBytes bounds one text sent to an engine: a caption is a sentence
// or two; anything longer is not a caption.
const MaxTextBytes = 4 << 10

// NormLang returns code as a lower-case ISO 639-1 code ("ES" → "es",
// "spa" → "es", "es-ES" → "es") and whether it is one Izwi knows.
func NormLang(code string) (string, bool) {
	c := strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(c, "-_"); i > 0 {
		c = c[:i]
	}
	if len(c) == 3 {
		if two, ok := iso3[c]; ok {
			return two, true
		}
		return "", false
	}
	if _, ok := names[c]; ok {
		return c, true
	}
	return "", false
}

// LangName is the English name of a known ISO 639-1 code ("" if unknown),
// what a chat model is told to translate into.
func LangName(code string) string { return names[code] }

// names are the languages Izwi accepts codes for (ISO 639-1).
var names = map[string]string{
	"af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech",
	"cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto",
	"es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
	"ga": "Irish", "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
	"id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian",
	"lv": "Latvian", "mk": "Macedonian", "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "oc": "Occitan",
	"pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
	"sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian",
	"ur": "Urdu", "vi": "Vietnamese", "xh": "Xhosa", "zh": "Chinese", "zu": "Zulu", "an": "Aragonese",
}

// iso3 maps the ISO 639-3 codes Apertium names its modes with.
var iso3 = map[string]string{
	"eng": "en", "spa": "es", "cat": "ca", "glg": "gl", "por": "pt", "fra": "fr", "ita": "it", "deu": "de",
	"eus": "eu", "oci": "oc", "ron": "ro", "epo": "eo", "isl": "is", "mkd": "mk", "hbs": "sr", "arg": "an",
	"nld": "nl", "afr": "af", "swe": "sv", "dan": "da", "nor": "no", "cym": "cy", "gle": "ga",
}
