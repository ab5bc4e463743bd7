// Package wordfilter owns the word filters applied to recognised text
// before anyone sees it: replacement lists (names an engine mishears),
// number redaction and profanity masking. It is pure and a leaf: tokens
// in, tokens out, times kept.
//
// The profanity list is github.com/TwiN/go-away's (MIT licence; about 80
// English stems with a list of false positives such as "assassin" and
// "class"), matched within each word, so "fucking" is caught by "fuck".
// A masked word keeps its length and punctuation: "****ing,".
package wordfilter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	goaway "github.com/TwiN/go-away"

	"github.com/izwi-speech/izwi/internal/textformat"
)

// Limits on a replacement list (Deepgram suggests at most 200 terms).
const (
	MaxRules   = 200
	MaxRuleLen = 100 // bytes of a find or replace phrase
	maxFind    = 8   // words in a find phrase
)

// Redacted stands for a run of redacted numbers.
const Redacted = "[REDACTED]"

// Token is one word with its times and confidence.
type Token struct {
	Text       string
	Start, End time.Duration
	Confidence float32
}

// Rule replaces a word or phrase (matched whole, ignoring case and the
// punctuation around words) with another ("" removes it).
type Rule struct {
	Find    string `json:"find"`
	Replace string `json:"replace"`
}

// Config chooses the filters. The zero value changes nothing.
type Config struct {
	Replace []Rule
	// RedactNumbers replaces every run of three or more numerals (digits
	// or spoken "one two three") with Redacted.
	RedactNumbers bool
	// Profanity masks profane words with asterisks.
	Profanity bool
}

// Validate checks the limits.
func (c Config) Validate() error {
	if len(c.Replace) > MaxRules {
		return fmt.Errorf("wordfilter: %d replacements: at most %d", len(c.Replace), MaxRules)
	}
	for _, r := range c.Replace {
		n := len(strings.Fields(r.Find))
		switch {
		case n == 0:
			return errors.New("wordfilter: a replacement needs a word or phrase to find")
		case n > maxFind:
			return fmt.Errorf("wordfilter: %q: at most %d words to find", truncate(r.Find), maxFind)
		case len(r.Find) > MaxRuleLen || len(r.Replace) > MaxRuleLen:
			return fmt.Errorf("wordfilter: %q: find and replace are at most %d bytes each", truncate(r.Find), MaxRuleLen)
		case !utf8.ValidString(r.Find) || !utf8.ValidString(r.Replace):
			return errors.New("wordfilter: a replacement is not valid UTF-8")
		}
	}
	return nil
}

func truncate(s string) string {
	if r := []rune(s); len(r) > 24 {
		return string(r[:24]) + "…"
	}
	return s
}

// Filter applies a Config. Safe for concurrent use.
type Filter struct {
	rules   []rule
	redact  bool
	profane *goaway.ProfanityDetector
}

type rule struct {
	find []string // keys
	with []string
}

// New validates c and prepares its filters.
func New(c Config) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := &Filter{redact: c.RedactNumbers}
	for _, r := range c.Replace {
		var find []string
		for _, w := range strings.Fields(r.Find) {
			find = append(find, key(w))
		}
		f.rules = append(f.rules, rule{find: find, with: strings.Fields(r.Replace)})
	}
	if c.Profanity {
		f.profane = profanity()
	}
	return f, nil
}

// profanity is go-away's detector for recognised speech: engines spell
// words out, so leetspeak, special characters and spaces inside words are
// not undone (undoing spaces would join "was some" into "wassome").
func profanity() *goaway.ProfanityDetector {
	return goaway.NewProfanityDetector().WithSanitizeLeetSpeak(false).WithSanitizeSpecialCharacters(false).
		WithSanitizeAccents(false).WithSanitizeSpaces(false)
}

// inflections may follow a profanity in a word that is still masked.
var inflections = []string{"", "s", "es", "ed", "er", "ers", "ing", "ings", "in", "y"}

// mask masks a profane word, or one inflected ("****ing"). go-away finds
// profanities inside words; one inside another word ("turnips",
// "Scunthorpe") is not a profanity and is left alone.
func (f *Filter) mask(w string) string {
	lw := strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }))
	p := f.profane.ExtractProfanity(lw)
	if p == "" {
		return w
	}
	rest, ok := strings.CutPrefix(lw, p)
	if !ok || !slices.Contains(inflections, rest) {
		return w
	}
	return f.profane.Censor(w)
}

// Empty reports whether f changes nothing.
func (f *Filter) Empty() bool {
	return f == nil || (len(f.rules) == 0 && !f.redact && f.profane == nil)
}

// Apply returns ts with the replacements, then the redaction, then the
// masking applied. ts is not modified.
func (f *Filter) Apply(ts []Token) []Token {
	if f.Empty() {
		return ts
	}
	out := ts
	if len(f.rules) > 0 {
		out = f.replace(out)
	}
	if f.redact {
		out = redactNumbers(out)
	}
	if f.profane != nil {
		masked := make([]Token, len(out))
		for i, t := range out {
			t.Text = f.mask(t.Text)
			masked[i] = t
		}
		out = masked
	}
	return out
}

// Text applies f to text without word times.
func (f *Filter) Text(text string) string {
	if f.Empty() {
		return text
	}
	return Join(f.Apply(Tokens(text)))
}

// Tokens splits text into tokens without times.
func Tokens(text string) []Token {
	fields := strings.Fields(text)
	ts := make([]Token, len(fields))
	for i, w := range fields {
		ts[i] = Token{Text: w}
	}
	return ts
}

// Join is the tokens' text, space-separated.
func Join(ts []Token) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Text
	}
	return strings.Join(parts, " ")
}

// key is how words are compared: lower case, without the punctuation
// around them ("Monika," → "monika").
func key(w string) string {
	return strings.ToLower(strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '\'' }))
}

// affixes are the punctuation before and after a word's letters.
func affixes(w string) (pre, post string) {
	core := strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '\'' })
	if core == "" {
		return "", ""
	}
	i := strings.Index(w, core)
	return w[:i], w[i+len(core):]
}

// Caption is a caption's words as viewers read them: formatted first when
// format is set (internal/textformat: sentence case and punctuation where
// the engine gave none; final ends the last sentence), then filtered. f
// may be nil (no filters).
func (f *Filter) Caption(ts []Token, format, final bool) []Token {
	if format {
		words := make([]textformat.Word, len(ts))
		for i, t := range ts {
			words[i] = textformat.Word{Text: t.Text, Start: t.Start, End: t.End}
		}
		formatted := textformat.Words(words, final)
		out := make([]Token, len(ts))
		for i, t := range ts {
			t.Text = formatted[i]
			out[i] = t
		}
		ts = out
	}
	return f.Apply(ts)
}
