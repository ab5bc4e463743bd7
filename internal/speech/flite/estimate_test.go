package flite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// TestEstimateIsUpperBound: for every voice and texts of every shape that
// make Flite talk longest per phone, Estimate is at least the audio
// Synthesize makes, and not absurdly more for prose.
func TestEstimateIsUpperBound(t *testing.T) {
	s, err := New(speech.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{
		"prose":    strings.Repeat("The quick brown fox jumps over the lazy dog. ", 3),
		"digits":   strings.Repeat("1234567890", 6),
		"letters":  strings.Repeat("a", 60),
		"spaced":   strings.Repeat("a b c d e f g h ", 4),
		"punct":    "... , ; : ! ?",
		"caps":     strings.Repeat("NATO IBM XKCD ", 4),
		"numbers":  "1,234,567.89 $3.50 12:30",
		"newlines": strings.Repeat("a\n", 30),
	}
	for _, v := range builtinVoices() {
		for name, text := range texts {
			for _, speed := range []float32{1} {
				req := speech.SynthesisRequest{Text: text, Voice: v.ID, Speed: speed}
				est, err := s.Estimate(context.Background(), req)
				if err != nil {
					t.Fatalf("%s %s: %v", v.ID, name, err)
				}
				n := 0
				err = s.Synthesize(context.Background(), req, func(x []float32) error { n += len(x); return nil })
				if err != nil && !errors.Is(err, speech.ErrBadInput) {
					t.Fatalf("%s %s: %v", v.ID, name, err)
				}
				got := speech.SamplesToDuration(n, SampleRate)
				if got > est {
					t.Errorf("%s %s speed %v: made %v, estimate %v", v.ID, name, speed, got, est)
				}
				if name == "prose" && est > 3*got {
					t.Errorf("%s prose speed %v: estimate %v is over 3× the %v made", v.ID, speed, est, got)
				}
			}
		}
	}
}

// TestEstimateRefusesLikeSynthesize: the estimate sees the same bad input.
func TestEstimateRefusesLikeSynthesize(t *testing.T) {
	s, err := New(speech.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []speech.SynthesisRequest{
		{Text: "  "}, {Text: "hi", Voice: "nobody"}, {Text: "hi", Speed: -1},
		{Text: strings.Repeat("a", MaxTextRunes+1)},
	} {
		if _, err := s.Estimate(context.Background(), req); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%+.20v: %v, want ErrBadInput", req, err)
		}
	}
}

func TestSplitLongTokens(t *testing.T) {
	for in, want := range map[string]string{
		"short words stay":              "short words stay",
		strings.Repeat("1", 70):         strings.Repeat("1", 32) + " " + strings.Repeat("1", 32) + " " + strings.Repeat("1", 6),
		"é" + strings.Repeat("é", 32):   strings.Repeat("é", 32) + " é",
		"a " + strings.Repeat("b", 33):  "a " + strings.Repeat("b", 32) + " b",
		strings.Repeat("c", 32) + "\nd": strings.Repeat("c", 32) + "\nd",
	} {
		if got := splitLongTokens(in); got != want {
			t.Errorf("splitLongTokens(%q) = %q, want %q", in, got, want)
		}
	}
}
