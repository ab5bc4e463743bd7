// Package prepare owns prepared text: what a venue knows will be said (the
// readings, hymns, names and notes of a service) turned into what engines
// can use — sentences of normalised words, a small n-gram language model
// estimated from them, and the rare words and phrases worth boosting. It
// is pure Go, holds nothing on disk, and knows no engine: engines take its
// output through speech.StreamOptions.Context and adapt themselves.
package prepare

import (
	"strings"
	"unicode"
)

// MaxTextBytes bounds prepared text: about 300 pages of prose. Callers
// refuse more before anything is built.
const MaxTextBytes = 1 << 20

// maxWordBytes drops tokens no engine dictionary holds (URLs, hashes).
const maxWordBytes = 40

// Sentences splits text into sentences of lower-case words, the way a
// recognizer's vocabulary spells them: letters (any script) and inner
// apostrophes; digits are spelt out as English words ("23" → "twenty
// three"); everything else separates words. Sentence ends are . ! ? ; :
// and blank lines; a single newline ends a sentence too, because prepared
// texts (hymns, orders of service) are written a line at a time.
func Sentences(text string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	endWord := func() {
		if word.Len() == 0 {
			return
		}
		w := strings.Trim(word.String(), "'")
		word.Reset()
		switch {
		case w == "" || len(w) > maxWordBytes:
		case isDigits(w):
			cur = append(cur, spellNumber(w)...)
		default:
			cur = append(cur, w)
		}
	}
	endSentence := func() {
		endWord()
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	prevDigit := false
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			if prevDigit {
				endWord()
			}
			word.WriteRune(unicode.ToLower(r))
			prevDigit = false
		case unicode.IsDigit(r):
			if !prevDigit {
				endWord()
			}
			if r < '0' || r > '9' {
				endWord()
				continue
			}
			word.WriteRune(r)
			prevDigit = true
		case r == '\'' || r == '’':
			if word.Len() > 0 && !prevDigit {
				word.WriteRune('\'')
			}
		case r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '\n':
			endSentence()
			prevDigit = false
		default:
			endWord()
			prevDigit = false
		}
	}
	endSentence()
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

var (
	ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
)

// spellNumber spells an integer as English words the way it is read aloud
// in a service: "23" → twenty three, "1662" → sixteen sixty two (a year or
// a hymn number), "100" → one hundred. Longer digit runs are read digit by
// digit. (Written by hand: the few Go number-to-words libraries do not read
// four-digit numbers as years, which is how services say them.)
func spellNumber(d string) []string {
	d = strings.TrimLeft(d, "0")
	switch {
	case d == "":
		return []string{"zero"}
	case len(d) > 4:
		var out []string
		for _, r := range d {
			out = append(out, ones[r-'0'])
		}
		return out
	case len(d) == 4 && d[1:] != "000" && d[2:] != "00":
		out := below100(atoi(d[:2]))
		if lo := atoi(d[2:]); lo < 10 {
			return append(out, "oh", ones[lo]) // 1905: nineteen oh five
		}
		return append(out, below100(atoi(d[2:]))...)
	}
	n := atoi(d)
	var out []string
	if n >= 1000 {
		out = append(out, below100(n/1000)...)
		out = append(out, "thousand")
		n %= 1000
	}
	if n >= 100 {
		out = append(out, ones[n/100], "hundred")
		n %= 100
	}
	if n > 0 {
		out = append(out, below100(n)...)
	}
	return out
}

func below100(n int) []string {
	switch {
	case n < 20:
		return []string{ones[n]}
	case n%10 == 0:
		return []string{tens[n/10]}
	default:
		return []string{tens[n/10], ones[n%10]}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
