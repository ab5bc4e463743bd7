// Package wer computes word error rate the standard way: both texts are
// normalised (case-folded, punctuation stripped, apostrophes inside words
// kept), split into words, and aligned by Levenshtein distance; WER is
// (substitutions + deletions + insertions) / reference words.
package wer

import (
	"strings"
	"unicode"
)

// Errors counts the edit operations of one alignment.
type Errors struct {
	Substitutions, Deletions, Insertions int
	// RefWords is the number of words in the normalised reference.
	RefWords int
}

// Add accumulates e into a corpus total, so corpus WER weights by length.
func (e *Errors) Add(o Errors) {
	e.Substitutions += o.Substitutions
	e.Deletions += o.Deletions
	e.Insertions += o.Insertions
	e.RefWords += o.RefWords
}

// Rate returns WER. An empty reference gives 0 for an empty hypothesis and
// 1 otherwise, so a silent clip recognised as words still counts as wrong.
func (e Errors) Rate() float64 {
	edits := e.Substitutions + e.Deletions + e.Insertions
	if e.RefWords == 0 {
		if edits == 0 {
			return 0
		}
		return 1
	}
	return float64(edits) / float64(e.RefWords)
}

// Normalize returns the words of s: lower case, letters, digits and
// in-word apostrophes only.
func Normalize(s string) []string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r):
			return unicode.ToLower(r)
		case r == '\'' || r == '’':
			return '\''
		}
		return ' '
	}, s)
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.Trim(w, "'")
	}
	out := words[:0]
	for _, w := range words {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Compute aligns hypothesis against reference after normalising both.
func Compute(reference, hypothesis string) Errors {
	return Align(Normalize(reference), Normalize(hypothesis))
}

// Align aligns already-normalised word slices with Levenshtein distance and
// classifies the edits. Ties prefer substitution, then deletion, which is
// what NIST sclite and jiwer report.
func Align(ref, hyp []string) Errors {
	type cell struct{ cost, sub, del, ins int }
	prev := make([]cell, len(hyp)+1)
	cur := make([]cell, len(hyp)+1)
	for j := range prev {
		prev[j] = cell{cost: j, ins: j}
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = cell{cost: i, del: i}
		for j := 1; j <= len(hyp); j++ {
			if ref[i-1] == hyp[j-1] {
				cur[j] = prev[j-1]
				continue
			}
			sub, del, ins := prev[j-1], prev[j], cur[j-1]
			best := sub
			best.sub++
			if del.cost < best.cost {
				best = del
				best.del++
			}
			if ins.cost < best.cost {
				best = ins
				best.ins++
			}
			best.cost++
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	end := prev[len(hyp)]
	return Errors{Substitutions: end.sub, Deletions: end.del, Insertions: end.ins, RefWords: len(ref)}
}
