package pocketsphinx

import (
	"math"
	"reflect"
	"testing"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// idleDecoder returns rec's one idle decoder.
func idleDecoder(t *testing.T, rec *Recognizer) *decoder {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.idle) != 1 {
		t.Fatalf("%d idle decoders, want 1", len(rec.idle))
	}
	return rec.idle[0]
}

// The merged model with nothing prepared in it scores exactly as the
// general model: a decoder searching through it recognises word for word,
// time for time, what it recognises without it (live profile). This is
// the guard on the merged model's word table and its pass-through of the
// general model's scores, weights and caches.
func TestPreparedEmptyParity(t *testing.T) {
	rec := newProfileRec(t, true, map[string]string{"decoders": "1"}, speech.Deps{})
	us := testdata.Utterances(t)[:3]
	var want [][]speech.Result
	for _, u := range us {
		want = append(want, transcribe(t, rec, readWAV(t, u.WAV), 3200))
	}
	d := idleDecoder(t, rec)
	if err := d.usePrepared(nil, LiveContextWeight, 1); err != nil {
		t.Fatal(err)
	}
	for i, u := range us {
		got := transcribe(t, rec, readWAV(t, u.WAV), 3200)
		if s := idleDecoder(t, rec).activeSearch(); s != "izwi_prepared" {
			t.Fatalf("the stream searched with %q, not the merged model", s)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s: through the empty merged model\n %+v\nwithout it\n %+v", u.ID, got, want[i])
		}
	}
}

// The merged model gives a word the prepared model's back-off
// probability: for words the general model lacks, exactly w times what
// the estimated model says (prepare.LM.Prob), for seen trigrams and
// bigrams and through back-off weights to the unigrams, with histories of
// general words and new ones alike. This is the guard on the hash tables
// (packing, probing) and the back-off walk.
func TestPreparedModelProbabilities(t *testing.T) {
	sentences := [][]string{
		{"zorbin", "quaxel", "the", "fendrik"},
		{"the", "fendrik", "zorbin", "quaxel"},
		{"quaxel", "the", "wumbrel"},
		{"zorbin", "wumbrel", "wumbrel", "the", "quaxel"},
	}
	lm, err := prepare.Estimate(sentences, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	const w = 0.25
	rec := newProfileRec(t, true, map[string]string{"decoders": "1"}, speech.Deps{})
	d := idleDecoder(t, rec)
	if err := d.usePrepared(newPreparedModel(lm), w, 1); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.useOwn(); err != nil {
			t.Fatal(err)
		}
	}()
	news := []string{"zorbin", "quaxel", "fendrik", "wumbrel"}
	for _, h := range [][]string{{}, {"<s>"}, {"the"}, {"zorbin"}, {"<s>", "zorbin"}, {"zorbin", "quaxel"}, {"the", "fendrik"},
		{"quaxel", "the"}, {"wumbrel", "wumbrel"}, {"fendrik", "zorbin"}, {"wumbrel", "the"}, {"quaxel", "zorbin"}} {
		for _, word := range news {
			want := math.Log10(w * lm.Prob(h, word))
			if got := d.preparedLog10(h, word); math.Abs(got-want) > 1e-3 {
				t.Errorf("log10 p(%s | %q): merged model %.5f, prepared model × %v %.5f", word, h, got, w, want)
			}
		}
	}
	// A general word the text lacks keeps its general probability × (1 − w).
	if got := d.preparedLog10([]string{"<s>"}, "house"); got > 0 || got < -10 {
		t.Errorf("log10 p(house | <s>) = %v", got)
	}
}

// FuzzPreparedModelTables: whatever the text, the tables handed to the
// shim hold what izwi_prep_new relies on (it refuses the rest, but a
// refusal would leave the text unprepared): three indices per n-gram,
// each a word of the table or -1 before a shorter n-gram, one unigram per
// word, finite log probabilities.
func FuzzPreparedModelTables(f *testing.F) {
	f.Add("Psalm 23. The Lord is my shepherd; I shall not want.\nAmen")
	f.Add("a a a a\n\n!!! ζζζ 1662 the the")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		lm, err := prepare.Estimate(prepare.Sentences(text), 3, nil)
		if err != nil {
			return // no words: nothing is handed to the shim
		}
		pm := newPreparedModel(lm)
		if len(pm.ids) != 3*len(pm.lp) || len(pm.bo) != len(pm.lp) || len(pm.lp) != lm.Size() {
			t.Fatalf("tables of %d ids, %d probabilities, %d back-offs for %d n-grams", len(pm.ids), len(pm.lp), len(pm.bo), lm.Size())
		}
		seen := map[string]bool{}
		for _, w := range pm.words {
			if seen[w] {
				t.Fatalf("word %q twice", w)
			}
			seen[w] = true
		}
		unigrams := map[int32]bool{}
		n := int32(len(pm.words))
		for i := range pm.lp {
			a, b, c := pm.ids[3*i], pm.ids[3*i+1], pm.ids[3*i+2]
			if a < -1 || b < -1 || c < 0 || a >= n || b >= n || c >= n || (a >= 0 && b < 0) {
				t.Fatalf("n-gram %d: indices %d %d %d of %d words", i, a, b, c, n)
			}
			if b < 0 {
				unigrams[c] = true
			}
			if math.IsNaN(float64(pm.lp[i])) || math.IsInf(float64(pm.lp[i]), 0) || pm.lp[i] > 0 || math.IsNaN(float64(pm.bo[i])) || math.IsInf(float64(pm.bo[i]), 0) {
				t.Fatalf("n-gram %d: log10 p %v, back-off %v", i, pm.lp[i], pm.bo[i])
			}
		}
		if len(unigrams) != len(pm.words) {
			t.Fatalf("%d unigrams for %d words", len(unigrams), len(pm.words))
		}
	})
}
