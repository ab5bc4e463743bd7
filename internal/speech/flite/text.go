package flite

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/speech"
)

// MaxTextRunes caps one request's text. It bounds synthesis time and memory
// (a few minutes of audio) and so the cost of any single request.
const MaxTextRunes = 5000

// CleanText prepares req.Text for Flite: invalid UTF-8 and control or
// format characters (NUL, escapes, bidi overrides, zero-width marks) become
// spaces, except newlines, which Flite reads as sentence breaks. It returns
// speech.ErrBadInput for blank or over-long text. The error never quotes
// the text, so it is safe to log.
func CleanText(text string) (string, error) {
	if n := utf8.RuneCountInString(text); n > MaxTextRunes {
		return "", fmt.Errorf("flite: text is %d characters, limit %d: %w", n, MaxTextRunes, speech.ErrBadInput)
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			return ' '
		}
		return r
	}, strings.ToValidUTF8(text, " "))
	if strings.TrimSpace(clean) == "" {
		return "", fmt.Errorf("flite: text is blank: %w", speech.ErrBadInput)
	}
	return splitLongTokens(clean), nil
}

// maxTokenRunes is the longest run of non-space characters handed to Flite
// as one token. Flite reads a long digit or letter run word by word inside
// one utterance, holding that utterance's whole audio, so a 4,096-digit
// "number" would be one utterance of over an hour; glue.c ends utterances
// past a few dozen bytes of tokens, and this keeps any single token short
// enough for that bound to hold.
const maxTokenRunes = 32

// splitLongTokens puts a space after every maxTokenRunes non-space runes in
// a row. Words that long do not occur in prose; URLs and digit strings are
// read the same either way.
func splitLongTokens(s string) string {
	run := 0
	var b strings.Builder
	for i, r := range s {
		if unicode.IsSpace(r) {
			run = 0
		} else if run++; run > maxTokenRunes {
			if b.Len() == 0 {
				b.Grow(len(s) + len(s)/maxTokenRunes)
				b.WriteString(s[:i])
			}
			b.WriteByte(' ')
			run = 1
		}
		if b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}
