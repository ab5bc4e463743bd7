package wordfilter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// replace applies the rules left to right; the first rule that matches at
// a position wins, and replaced words are not matched again.
func (f *Filter) replace(ts []Token) []Token {
	keys := make([]string, len(ts))
	for i, t := range ts {
		keys[i] = key(t.Text)
	}
	out := make([]Token, 0, len(ts))
	for i := 0; i < len(ts); {
		r, ok := f.match(keys[i:])
		if !ok {
			out = append(out, ts[i])
			i++
			continue
		}
		first, last := ts[i], ts[i+len(r.find)-1]
		pre, _ := affixes(first.Text)
		_, post := affixes(last.Text)
		for j, w := range r.with {
			if j == 0 {
				w = pre + w
				if startsUpper(first.Text) {
					w = upperFirst(w)
				}
			}
			if j == len(r.with)-1 {
				w += post
			}
			out = append(out, Token{Text: w, Start: first.Start, End: last.End, Confidence: min(first.Confidence, last.Confidence)})
		}
		i += len(r.find)
	}
	return out
}

func (f *Filter) match(keys []string) (rule, bool) {
	for _, r := range f.rules {
		if len(r.find) > len(keys) {
			continue
		}
		ok := true
		for j, k := range r.find {
			if keys[j] != k {
				ok = false
				break
			}
		}
		if ok {
			return r, true
		}
	}
	return rule{}, false
}

func startsUpper(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) {
			return unicode.IsUpper(r)
		}
	}
	return false
}

func upperFirst(w string) string {
	for i, r := range w {
		if unicode.IsLetter(r) {
			return w[:i] + string(unicode.ToUpper(r)) + w[i+utf8.RuneLen(r):]
		}
	}
	return w
}

// spokenDigits are the words engines write for single digits.
var spokenDigits = strings.Fields("zero oh one two three four five six seven eight nine")

// digits counts the numerals a token stands for: its digits, or 1 for a
// spoken digit; -1 for any other word.
func digits(w string) int {
	k := key(w)
	if k == "" {
		return -1
	}
	n := 0
	for _, r := range k {
		if r < '0' || r > '9' {
			n = -1
			break
		}
		n++
	}
	if n > 0 {
		return n
	}
	for _, d := range spokenDigits {
		if k == d {
			return 1
		}
	}
	return -1
}

// redactNumbers replaces each run of tokens standing for three or more
// numerals with one Redacted token spanning the run.
func redactNumbers(ts []Token) []Token {
	out := make([]Token, 0, len(ts))
	for i := 0; i < len(ts); {
		j, n := i, 0
		for j < len(ts) {
			d := digits(ts[j].Text)
			if d < 0 {
				break
			}
			n += d
			j++
		}
		switch {
		case n >= 3:
			_, post := affixes(ts[j-1].Text)
			out = append(out, Token{Text: Redacted + post, Start: ts[i].Start, End: ts[j-1].End, Confidence: ts[i].Confidence})
			i = j
		case j > i:
			out = append(out, ts[i:j]...)
			i = j
		default:
			out = append(out, ts[i])
			i++
		}
	}
	return out
}
