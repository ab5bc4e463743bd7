package wer

import (
	"math"
	"slices"
	"testing"
)

func TestAlign(t *testing.T) {
	for _, tc := range []struct {
		ref, hyp      string
		sub, del, ins int
		rate          float64
	}{
		{"the cat sat", "the cat sat", 0, 0, 0, 0},
		{"the cat sat", "the bat sat", 1, 0, 0, 1.0 / 3},
		{"the cat sat", "the sat", 0, 1, 0, 1.0 / 3},
		{"the cat sat", "the cat sat down", 0, 0, 1, 1.0 / 3},
		{"the cat sat", "", 0, 3, 0, 1},
		{"", "noise", 0, 0, 1, 1},
		{"", "", 0, 0, 0, 0},
		{"a b c d", "b c d e", 0, 1, 1, 0.5},
		// Normalisation: case, punctuation and curly apostrophes do not count.
		{"HE'S IN CHARGE HERE", "he’s in charge, here.", 0, 0, 0, 0},
		{"kitten", "sitting", 1, 0, 0, 1},
	} {
		got := Compute(tc.ref, tc.hyp)
		if got.Substitutions != tc.sub || got.Deletions != tc.del || got.Insertions != tc.ins {
			t.Errorf("Compute(%q, %q) = %+v, want S=%d D=%d I=%d", tc.ref, tc.hyp, got, tc.sub, tc.del, tc.ins)
		}
		if math.Abs(got.Rate()-tc.rate) > 1e-9 {
			t.Errorf("Compute(%q, %q).Rate() = %v, want %v", tc.ref, tc.hyp, got.Rate(), tc.rate)
		}
	}
}

func TestCorpusWeightsByLength(t *testing.T) {
	var total Errors
	total.Add(Compute("one two three four", "one two three four"))
	total.Add(Compute("five", "six"))
	if r := total.Rate(); r != 0.2 {
		t.Errorf("corpus rate = %v, want 0.2 (1 error / 5 words)", r)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize("  'Tis  the DOG'S-bone!  ")
	want := []string{"tis", "the", "dog's", "bone"}
	if !slices.Equal(got, want) {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
}

// The distance is a metric: symmetric in total edits and zero only for equal inputs.
func FuzzAlign(f *testing.F) {
	f.Add("the cat sat", "a cat sat on")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, y := Normalize(a), Normalize(b)
		e1, e2 := Align(x, y), Align(y, x)
		d1 := e1.Substitutions + e1.Deletions + e1.Insertions
		d2 := e2.Substitutions + e2.Deletions + e2.Insertions
		if d1 != d2 {
			t.Fatalf("distance not symmetric: %d vs %d", d1, d2)
		}
		if (d1 == 0) != slices.Equal(x, y) {
			t.Fatalf("zero distance iff equal violated")
		}
		if d1 > max(len(x), len(y)) {
			t.Fatalf("distance %d exceeds max length", d1)
		}
	})
}
