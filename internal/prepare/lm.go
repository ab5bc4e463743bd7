package prepare

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// LM is an n-gram language model estimated from prepared text by
// interpolated absolute discounting (Ney, Essen & Kneser 1994): for each
// order n ≥ 2, every seen n-gram gives up a discount D_n, and the mass set
// free, D_n·N₁₊(h)/c(h), goes to the (n−1)-gram estimate:
//
//	p(w | h) = max(c(h w) − D_n, 0) / c(h) + D_n·N₁₊(h)/c(h) · p(w | h′)
//
// with D_n = n₁/(n₁ + 2n₂) from the counts of n-grams seen once and twice
// (clamped to [0.1, 0.9]), and maximum-likelihood unigrams over the text's
// own vocabulary. In ARPA back-off form the interpolated probability of a
// seen n-gram is stored and the back-off weight of h is exactly the freed
// mass D_n·N₁₊(h)/c(h), so the file describes the same model. (Written by
// hand: no Go library estimates ARPA models; the estimator is a few dozen
// lines and is tested against its definition.)
type LM struct {
	Order int
	// UnigramScale, when in (0, 1), multiplies the unigram probabilities
	// WriteARPA writes (</s> excepted), and with them every probability a
	// decoder backs off to: the model then speaks up for a word mainly in
	// the contexts the text gave it. Seen n-grams keep their interpolated
	// probabilities; 0 or 1 leaves the model as estimated.
	UnigramScale float64
	// counts[n-1] maps an n-gram (words joined by a space) to its count.
	counts []map[string]int
	// hist[n-1] maps an n-gram used as a history to its total count and
	// the number of distinct words that follow it.
	hist     []map[string]histStat
	discount []float64
	total    int // unigram tokens, </s> included, <s> not
}

type histStat struct{ count, types int }

const (
	bos = "<s>"
	eos = "</s>"
)

// Estimate counts every n-gram up to order (1–5) of the sentences, each
// padded with <s> and </s>. It keeps only words keep accepts (nil: all);
// a sentence left empty is skipped.
func Estimate(sentences [][]string, order int, keep func(string) bool) (*LM, error) {
	if order < 1 || order > 5 {
		return nil, fmt.Errorf("prepare: order %d, want 1 to 5", order)
	}
	lm := &LM{Order: order, counts: make([]map[string]int, order), hist: make([]map[string]histStat, order),
		discount: make([]float64, order)}
	for n := range order {
		lm.counts[n] = map[string]int{}
		lm.hist[n] = map[string]histStat{}
	}
	for _, s := range sentences {
		words := []string{bos}
		for _, w := range s {
			if keep == nil || keep(w) {
				words = append(words, w)
			}
		}
		if len(words) == 1 {
			continue
		}
		words = append(words, eos)
		for i := 1; i < len(words); i++ {
			lm.total++
			for n := 1; n <= order && i-n+1 >= 0; n++ {
				if n == 1 && words[i] == bos {
					continue
				}
				lm.counts[n-1][strings.Join(words[i-n+1:i+1], " ")]++
			}
		}
		lm.counts[0][bos]++
	}
	if lm.total == 0 {
		return nil, fmt.Errorf("prepare: the text has no words to model")
	}
	for n := 2; n <= order; n++ {
		var n1, n2 int
		for g, c := range lm.counts[n-1] {
			switch c {
			case 1:
				n1++
			case 2:
				n2++
			}
			h := g[:strings.LastIndexByte(g, ' ')]
			st := lm.hist[n-2][h]
			st.count += c
			st.types++
			lm.hist[n-2][h] = st
		}
		d := 0.5
		if n1+2*n2 > 0 && n2 > 0 {
			d = float64(n1) / float64(n1+2*n2)
		}
		lm.discount[n-1] = min(max(d, 0.1), 0.9)
	}
	return lm, nil
}

// Vocabulary returns the modelled words, sorted, without <s> and </s>.
func (lm *LM) Vocabulary() []string {
	var out []string
	for w := range lm.counts[0] {
		if w != bos && w != eos {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// Prob is p(w | history) under the interpolated model, for history of any
// length (only the last Order−1 words count). A word outside the
// vocabulary has probability 0.
func (lm *LM) Prob(history []string, w string) float64 {
	if w == bos {
		return 0
	}
	if len(history) > lm.Order-1 {
		history = history[len(history)-(lm.Order-1):]
	}
	return lm.prob(history, w)
}

func (lm *LM) prob(h []string, w string) float64 {
	if len(h) == 0 {
		if w == bos {
			return 0 // never predicted; ARPA writes it as -99
		}
		return float64(lm.counts[0][w]) / float64(lm.total)
	}
	n := len(h) + 1
	hs := strings.Join(h, " ")
	st, ok := lm.hist[n-2][hs]
	lower := lm.prob(h[1:], w)
	if !ok {
		return lower // an unseen history backs off whole
	}
	c := float64(lm.counts[n-1][hs+" "+w])
	d := lm.discount[n-1]
	return max(c-d, 0)/float64(st.count) + d*float64(st.types)/float64(st.count)*lower
}

// backoff is the ARPA back-off weight of history h (the freed mass).
func (lm *LM) backoff(h string, n int) (float64, bool) {
	if n >= lm.Order {
		return 0, false
	}
	st, ok := lm.hist[n-1][h]
	if !ok {
		return 0, false
	}
	d := lm.discount[n]
	return d * float64(st.types) / float64(st.count), true
}

// NGram is one n-gram of the model as a back-off decoder reads it: the
// log10 probability of its last word after the others (−99 for one never
// predicted, <s>), and the log10 back-off weight of the n-gram as a history
// (HasBackoff false when it is never one, or at the highest order).
type NGram struct {
	Words        []string
	Log10Prob    float64
	Log10Backoff float64
	HasBackoff   bool
}

// NGrams returns every n-gram of the model, by order and then sorted, so
// equal texts give equal lists. UnigramScale applies as documented.
func (lm *LM) NGrams() []NGram {
	out := make([]NGram, 0, lm.Size())
	for n := 1; n <= lm.Order; n++ {
		grams := make([]string, 0, len(lm.counts[n-1]))
		for g := range lm.counts[n-1] {
			grams = append(grams, g)
		}
		sort.Strings(grams)
		for _, g := range grams {
			words := strings.Split(g, " ")
			ng := NGram{Words: words, Log10Prob: -99}
			if p := lm.prob(words[:len(words)-1], words[len(words)-1]); p > 0 {
				if n == 1 && lm.UnigramScale > 0 && lm.UnigramScale < 1 && g != eos {
					p *= lm.UnigramScale
				}
				ng.Log10Prob = math.Log10(p)
			}
			if bo, ok := lm.backoff(g, n); ok && bo > 0 {
				ng.Log10Backoff, ng.HasBackoff = math.Log10(bo), true
			}
			out = append(out, ng)
		}
	}
	return out
}

// WriteARPA writes the model in the ARPA text format sphinxbase, SRILM
// and KenLM read. Lines are sorted, so equal texts give equal files.
func (lm *LM) WriteARPA(out io.Writer) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "\\data\\\n")
	for n := 1; n <= lm.Order; n++ {
		fmt.Fprintf(w, "ngram %d=%d\n", n, len(lm.counts[n-1]))
	}
	order := 0
	header := func(upTo int) { // every order gets its section, even empty
		for ; order < upTo; order++ {
			fmt.Fprintf(w, "\n\\%d-grams:\n", order+1)
		}
	}
	for _, ng := range lm.NGrams() {
		header(len(ng.Words))
		g := strings.Join(ng.Words, " ")
		if ng.HasBackoff {
			fmt.Fprintf(w, "%.6f\t%s\t%.6f\n", ng.Log10Prob, g, ng.Log10Backoff)
		} else {
			fmt.Fprintf(w, "%.6f\t%s\n", ng.Log10Prob, g)
		}
	}
	header(lm.Order)
	fmt.Fprintf(w, "\n\\end\\\n")
	return w.Flush()
}

// Size is the number of n-grams of every order in the model.
func (lm *LM) Size() int {
	n := 0
	for _, c := range lm.counts {
		n += len(c)
	}
	return n
}
