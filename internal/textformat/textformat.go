// Package textformat owns the rule-based formatter that gives captions
// sentence case and punctuation when the engine gives none (PocketSphinx
// and most streaming models return bare lower-case words). It is pure and
// a leaf: words in, words out.
//
// The rules, in order (docs/captions.md):
//
//  1. Text the engine already formatted — any capital letter — is left
//     exactly as it is. Text in capitals only (some LibriSpeech-trained
//     models) is first put in lower case.
//  2. The first word of a sentence gets a capital letter; so does the
//     pronoun "i" (i'm, i'll, i've, i'd).
//  3. A pause of at least SentencePause between two words (when the engine
//     gave word times) ends a sentence there: a period, then a capital.
//  4. Punctuation the engine gave is kept and never doubled.
//  5. A final caption ends its last sentence with "?" when that sentence
//     opens like a question (a question word followed by a helping verb,
//     "what is", "how do"; or a helping verb followed by a pronoun, "are
//     you", "can we"), otherwise with ".". A partial caption gets no final
//     mark: it is still being spoken.
//
// Numbers, names and inner commas are left as spoken; a replacement list
// (internal/wordfilter) fixes names.
package textformat

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SentencePause is the silence between two words that ends a sentence.
const SentencePause = 800 * time.Millisecond

// Word is one recognised word and, when known, its times.
type Word struct {
	Text       string
	Start, End time.Duration
}

// Formatted reports whether the engine already gave case (rule 1).
func Formatted(words []string) bool {
	for _, w := range words {
		for _, r := range w {
			if unicode.IsUpper(r) {
				return true
			}
		}
	}
	return false
}

// Words returns the words of one caption with the rules applied, word for
// word (the same count, in order): what Deepgram calls punctuated_word.
// words is not modified.
func Words(words []Word, final bool) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w.Text
	}
	if shouting(out) {
		for i := range out {
			out[i] = strings.ToLower(out[i])
		}
	}
	if len(out) == 0 || Formatted(out) {
		return out
	}
	sentence := 0 // index of the current sentence's first word
	for i := range out {
		if i == sentence || isPronounI(out[i]) {
			out[i] = upperFirst(out[i])
		}
		switch {
		case i+1 < len(out) && endsSentence(out[i]):
			sentence = i + 1
		case i+1 < len(out) && pause(words[i], words[i+1]):
			out[i] = punctuate(out[i], mark(out[sentence:i+1]))
			sentence = i + 1
		}
	}
	if final {
		out[len(out)-1] = punctuate(out[len(out)-1], mark(out[sentence:]))
	}
	return out
}

// endsSentence reports a word the engine ended with . ! or ?.
func endsSentence(w string) bool {
	return strings.HasSuffix(w, ".") || strings.HasSuffix(w, "!") || strings.HasSuffix(w, "?")
}

// punctuate adds m to w unless w already ends in punctuation.
func punctuate(w, m string) string {
	r, _ := utf8.DecodeLastRuneInString(w)
	if strings.ContainsRune(".!?,;:", r) {
		return w
	}
	return w + m
}

// Text applies the rules to a caption's text without word times.
func Text(text string, final bool) string {
	fields := strings.Fields(text)
	words := make([]Word, len(fields))
	for i, f := range fields {
		words[i] = Word{Text: f}
	}
	return strings.Join(Words(words, final), " ")
}

// shouting reports text in capitals only: letters, none lower case.
func shouting(words []string) bool {
	upper := false
	for _, w := range words {
		for _, r := range w {
			if unicode.IsLower(r) || strings.ContainsRune(".,?!;:", r) {
				return false
			}
			upper = upper || unicode.IsUpper(r)
		}
	}
	return upper
}

// pause reports a sentence-ending silence between a and b; unknown times
// (both zero) never do.
func pause(a, b Word) bool {
	if a.End == 0 && b.Start == 0 {
		return false
	}
	return b.Start-a.End >= SentencePause
}

// mark is the punctuation that ends sentence s.
func mark(s []string) string {
	if len(s) >= 2 && ((questionWord(s[0]) && helpingVerb(s[1])) || (helpingVerb(s[0]) && pronoun(s[1]))) {
		return "?"
	}
	return "."
}

func lower(w string) string { return strings.ToLower(w) }

func questionWord(w string) bool {
	switch lower(w) {
	case "who", "what", "when", "where", "why", "how", "which", "whose":
		return true
	}
	return false
}

func helpingVerb(w string) bool {
	switch lower(w) {
	case "is", "are", "am", "was", "were", "do", "does", "did", "can", "could", "will", "would", "shall", "should",
		"may", "might", "must", "have", "has", "had", "isn't", "aren't", "don't", "doesn't", "didn't", "can't", "won't",
		"wouldn't", "shouldn't", "couldn't", "haven't", "hasn't":
		return true
	}
	return false
}

func pronoun(w string) bool {
	switch lower(w) {
	case "i", "you", "we", "they", "he", "she", "it", "there", "this", "that", "anyone", "everyone", "someone":
		return true
	}
	return false
}

func isPronounI(w string) bool {
	switch lower(w) {
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
