package listen

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The formatter behind punctuate and smart_format. It is NOT Deepgram's
// punctuation model: Izwi's engines return bare lower-case words, and this
// applies three fixed rules so captions read as sentences:
//
//   - each result is one sentence: its first word gets a capital letter;
//   - the pronoun "i" (and i'm, i'll, i've, i'd) is capitalised;
//   - a final period is added unless the text already ends in . ! or ?
//
// Numbers, dates, currency and inner punctuation are left as spoken.

// FormatTranscript applies the rules to a whole transcript.
func FormatTranscript(text string) string {
	words := strings.Fields(text)
	if len(words) == 0 {
		return ""
	}
	return strings.Join(Punctuated(words), " ")
}

// Punctuated returns words with the rules applied word by word, the way
// Deepgram fills punctuated_word. words is not modified.
func Punctuated(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if isPronounI(w) || i == 0 {
			w = upperFirst(w)
		}
		out[i] = w
	}
	if n := len(out); n > 0 && !strings.ContainsAny(lastRune(out[n-1]), ".!?") {
		out[n-1] += "."
	}
	return out
}

func isPronounI(w string) bool {
	switch strings.ToLower(w) {
	case "i", "i'm", "i'll", "i've", "i'd":
		return true
	}
	return false
}

func upperFirst(w string) string {
	r, n := utf8.DecodeRuneInString(w)
	if r == utf8.RuneError {
		return w
	}
	return string(unicode.ToUpper(r)) + w[n:]
}

func lastRune(w string) string {
	r, _ := utf8.DecodeLastRuneInString(w)
	if r == utf8.RuneError {
		return ""
	}
	return string(r)
}
