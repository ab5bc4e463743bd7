package prepare

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
)

var corpus = Sentences(`The Lord is my shepherd. I shall not want.
He maketh me to lie down in green pastures. He leadeth me beside the still waters.
He restoreth my soul. He leadeth me in the paths of righteousness for his name's sake.
The Lord bless you and keep you. The Lord make his face shine upon you.`)

// Each history's distribution over the vocabulary and </s> sums to one:
// the discounting hands every bit of mass it takes to the lower order.
func TestLMNormalised(t *testing.T) {
	lm, err := Estimate(corpus, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	vocab := append(lm.Vocabulary(), eos)
	for _, h := range [][]string{nil, {bos}, {"the"}, {"he", "leadeth"}, {bos, "the"}, {"unseen", "words"}, {"my", "soul"}} {
		sum := 0.0
		for _, w := range vocab {
			sum += lm.Prob(h, w)
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("history %q: probabilities sum to %v", h, sum)
		}
	}
	if p := lm.Prob([]string{"the"}, "lord"); p < 0.4 || p > 0.6 {
		t.Errorf("p(lord | the) = %v: the text says 'the lord' three times in five 'the'", p)
	}
	if p := lm.Prob(nil, "zebra"); p != 0 {
		t.Errorf("a word outside the text has p = %v", p)
	}
}

// The ARPA file describes the same model: reading it back with back-off
// arithmetic gives Prob for seen and unseen n-grams alike.
func TestARPAMatchesModel(t *testing.T) {
	lm, err := Estimate(corpus, 3, func(w string) bool { return w != "waters" })
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := lm.WriteARPA(&buf); err != nil {
		t.Fatal(err)
	}
	arpa := readARPA(t, buf.String())
	if _, ok := arpa.prob["waters"]; ok {
		t.Fatal("a word the filter dropped is in the model")
	}
	vocab := append(lm.Vocabulary(), eos)
	for _, h := range [][]string{{bos, "he"}, {"he", "leadeth"}, {"the", "lord"}, {"still", "the"}, {"my"}, {bos}} {
		for _, w := range vocab {
			want := lm.Prob(h, w)
			got := arpa.score(append(h, w))
			if math.Abs(math.Log10(want)-got) > 1e-4 {
				t.Fatalf("p(%s | %q): model %v, ARPA 10^%v", w, h, math.Log10(want), got)
			}
		}
	}
	var again bytes.Buffer
	_ = lm.WriteARPA(&again)
	if again.String() != buf.String() {
		t.Error("two writes of one model differ")
	}
	header := "\\data\\\nngram 1=" + strconv.Itoa(len(lm.counts[0]))
	if !strings.HasPrefix(buf.String(), header) || !strings.HasSuffix(buf.String(), "\\end\\\n") {
		t.Errorf("ARPA frame: %q…", buf.String()[:40])
	}
}

// UnigramScale lowers every unigram (and so every probability that backs
// off to one) by its factor, and leaves seen n-grams and </s> as they were.
func TestARPAUnigramScale(t *testing.T) {
	lm, err := Estimate(corpus, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	var plain, scaled bytes.Buffer
	if err := lm.WriteARPA(&plain); err != nil {
		t.Fatal(err)
	}
	lm.UnigramScale = 1e-3
	if err := lm.WriteARPA(&scaled); err != nil {
		t.Fatal(err)
	}
	a, b := readARPA(t, plain.String()), readARPA(t, scaled.String())
	for _, tc := range []struct {
		ngram []string
		shift float64 // log10 change expected
	}{
		{[]string{"shepherd"}, -3},                 // a unigram
		{[]string{"green", "shepherd"}, -3},        // backs off to it
		{[]string{"the", "lord"}, 0},               // a seen bigram
		{[]string{"he", "leadeth", "me"}, 0},       // a seen trigram
		{[]string{"pastures", eos}, 0},             // seen, to </s>
		{[]string{"shepherd", "shepherd"}, -3},     // unseen bigram
		{[]string{"want", "green", "lord"}, -3},    // unseen trigram and bigram
		{[]string{"restoreth", "my", "soul"}, 0},   // seen
		{[]string{"name's", "sake", "lord"}, -3},   // unseen after a seen history
		{[]string{"waters", "he", "restoreth"}, 0}, // seen bigram inside
	} {
		if got := b.score(tc.ngram) - a.score(tc.ngram); math.Abs(got-tc.shift) > 1e-4 {
			t.Errorf("%q: log10 shifted by %v, want %v", tc.ngram, got, tc.shift)
		}
	}
	if a.prob[eos] != b.prob[eos] {
		t.Errorf("</s> unigram changed: %v → %v", a.prob[eos], b.prob[eos])
	}
}

func TestEstimateRefusals(t *testing.T) {
	if _, err := Estimate(corpus, 0, nil); err == nil {
		t.Error("order 0 accepted")
	}
	if _, err := Estimate(nil, 3, nil); err == nil {
		t.Error("no text accepted")
	}
	if _, err := Estimate(corpus, 3, func(string) bool { return false }); err == nil {
		t.Error("a text with every word filtered out accepted")
	}
}

type arpaModel struct{ prob, bow map[string]float64 }

func readARPA(t *testing.T, s string) arpaModel {
	t.Helper()
	m := arpaModel{prob: map[string]float64{}, bow: map[string]float64{}}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 2 {
			continue
		}
		p, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("line %q", sc.Text())
		}
		m.prob[f[1]] = p
		if len(f) == 3 {
			b, _ := strconv.ParseFloat(f[2], 64)
			m.bow[f[1]] = b
		}
	}
	return m
}

// score is log10 p(w | h) by ARPA back-off.
func (m arpaModel) score(words []string) float64 {
	key := strings.Join(words, " ")
	if p, ok := m.prob[key]; ok {
		return p
	}
	if len(words) == 1 {
		return math.Inf(-1)
	}
	return m.bow[strings.Join(words[:len(words)-1], " ")] + m.score(words[1:])
}
