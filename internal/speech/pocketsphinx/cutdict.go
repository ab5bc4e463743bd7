package pocketsphinx

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// dictCut is the model's pronunciation dictionary restricted to its
// language model's words, in a memory file every decoder loads at
// ps_init: the n-gram search can never hypothesise a word its language
// model lacks, yet each dictionary entry costs memory in every decoder
// (the entry and its phones, the search's per-word arrays): 79,420 of
// pocketsphinx-en-us's 134,723 entries, ~12 MiB less per decoder.
// outside lists the full dictionary's other words, so that a word still
// counts as known (hotwords, prepared text) as it did before the cut.
type dictCut struct {
	file    *os.File
	outside []string // sorted
	// share is the cut dictionary loaded once for every decoder
	// (shareddict.go); guarded by sharedLMs.mu.
	share *dictShare
}

type cutEntry struct {
	once sync.Once
	cut  *dictCut
	err  error
}

// decoderDict is the dictionary file r's decoders load: the cut one, or
// the model's when the language model is not shared.
func (r *Recognizer) decoderDict() string {
	if r.cut != nil {
		return r.cut.path()
	}
	return r.cfg.dict
}

// path is what PocketSphinx opens to read the cut dictionary.
func (c *dictCut) path() string { return procPath(c.file) }

// has reports whether word is one of the full dictionary's words the cut
// left out.
func (c *dictCut) has(word string) bool {
	if c == nil {
		return false
	}
	i := sort.SearchStrings(c.outside, word)
	return i < len(c.outside) && c.outside[i] == word
}

// cut returns the dictionary at dictPath restricted to s's words, built
// once per path while s is held.
func (s *sharedLM) cut(dictPath string) (*dictCut, error) {
	sharedLMs.mu.Lock()
	if s.e.cuts == nil {
		s.e.cuts = map[string]*cutEntry{}
	}
	ce := s.e.cuts[dictPath]
	if ce == nil {
		ce = &cutEntry{}
		s.e.cuts[dictPath] = ce
	}
	sharedLMs.mu.Unlock()
	ce.once.Do(func() {
		full, err := os.ReadFile(dictPath)
		if err != nil {
			ce.err = fmt.Errorf("pocketsphinx: reading the dictionary: %w", err)
			return
		}
		kept, outside := cutDict(full, s.has)
		f, err := memFile(kept)
		if err != nil {
			ce.err = err
			return
		}
		ce.cut = &dictCut{file: f, outside: outside}
	})
	return ce.cut, ce.err
}

// cutDict splits the lines of the pronunciation dictionary full: those
// whose word (alternates "word(2)" by their base word) is in the
// vocabulary are kept, the other words are returned sorted.
func cutDict(full []byte, inVocab func(string) bool) (kept []byte, outside []string) {
	var out bytes.Buffer
	out.Grow(len(full) * 2 / 3)
	seen := map[string]bool{}
	for len(full) > 0 {
		line := full
		if i := bytes.IndexByte(full, '\n'); i >= 0 {
			line, full = full[:i+1], full[i+1:]
		} else {
			full = nil
		}
		w := firstField(line)
		if w == "" {
			continue
		}
		if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
			w = w[:i]
		}
		if !inVocab(w) {
			if !seen[w] {
				seen[w] = true
				outside = append(outside, w)
			}
			continue
		}
		out.Write(line)
		if line[len(line)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	sort.Strings(outside)
	return out.Bytes(), outside
}

// firstField is the first field of line as bytes.Fields splits it ("" if
// none), without allocating the others.
func firstField(line []byte) string {
	i := bytes.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
	if i < 0 {
		return ""
	}
	line = line[i:]
	if j := bytes.IndexFunc(line, unicode.IsSpace); j >= 0 {
		line = line[:j]
	}
	return string(line)
}
