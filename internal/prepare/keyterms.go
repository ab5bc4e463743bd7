package prepare

import (
	"sort"
	"strings"
	"unicode"
)

// Keyterms picks at most n words and phrases of text worth boosting in an
// engine that takes a short list (Deepgram's keyterm, ≤ 100; sherpa-onnx
// hotwords): names first — runs of two or three capitalised words inside
// a sentence, and capitalised words there ("Dlamini", "Nokuthula
// Dlamini") — then the text's longer, rarer words. Common words are
// never picked: an engine knows them, and boosting them only hurts. The
// ranking is by how often a term occurs, then how long it is, then
// alphabetically, so the same text gives the same list. Terms come back
// lower-case, as Sentences spells words.
func Keyterms(text string, n int) []string {
	if n <= 0 {
		return nil
	}
	type cand struct {
		term  string
		count int
		name  bool
	}
	found := map[string]*cand{}
	add := func(term string, name bool) {
		c := found[term]
		if c == nil {
			c = &cand{term: term}
			found[term] = c
		}
		c.count++
		c.name = c.name || name
	}
	for _, line := range splitSentences(text) {
		fields := strings.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' })
		var run []string
		flush := func() {
			if len(run) >= 2 && len(run) <= 3 {
				add(strings.ToLower(strings.Join(run, " ")), true)
			}
			run = run[:0]
		}
		for i, f := range fields {
			lower := strings.ToLower(strings.Trim(f, "'’"))
			if lower == "" || len(lower) > maxWordBytes {
				flush()
				continue
			}
			capital := unicode.IsUpper([]rune(f)[0]) && i > 0 && !stopword[lower]
			if capital {
				run = append(run, lower)
				add(lower, true)
				continue
			}
			flush()
			if len(lower) >= 6 && !stopword[lower] {
				add(lower, false)
			}
		}
		flush()
	}
	all := make([]*cand, 0, len(found))
	for _, c := range found {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.name != b.name {
			return a.name
		}
		if a.count != b.count {
			return a.count > b.count
		}
		if len(a.term) != len(b.term) {
			return len(a.term) > len(b.term)
		}
		return a.term < b.term
	})
	var out []string
	for _, c := range all {
		if len(out) == n {
			break
		}
		out = append(out, c.term)
	}
	return out
}

// splitSentences cuts text where Sentences ends a sentence.
func splitSentences(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '\n'
	})
}

// stopword holds common English words that are capitalised at times
// (titles, days) or long, and are never worth boosting.
var stopword = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the a an and or but of to in on at for with from by as is are was were be been
		i you he she it we they me him her us them my your his its our their this that these those
		mr mrs ms dr rev revd saint st sir lord god amen monday tuesday wednesday thursday friday saturday sunday
		january february march april may june july august september october november december
		because before between through during without within another against however therefore
		should would could people something everything nothing anything someone everyone always
		little together whether please welcome thanks people`) {
		m[w] = true
	}
	return m
}()
