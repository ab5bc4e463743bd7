package flite

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/speech"
)

// phoneBound is, per voice (indexed like builtinVoices), the longest
// average phone it makes at speed 1, pauses included, measured over prose,
// digit strings, spelled letters, capitals, numbers and punctuation-only
// text, with a margin (estimate_test.go checks it). uttSlack covers the
// silence Flite puts around even an empty utterance. Together they make
// Estimate an upper bound of the audio, not a guess.
var phoneBound = [C.IZWI_FLITE_NVOICES]time.Duration{
	130 * time.Millisecond, // kal16
	130 * time.Millisecond, // slt
	180 * time.Millisecond, // rms
	130 * time.Millisecond, // awb
}

const uttSlack = time.Second

// Estimate bounds the audio req would make without making it: Flite's text
// analysis (tokens, words, phones and pauses) runs and the phones are
// counted, which costs a small fraction of synthesis and holds no audio.
// A caller refuses a request whose estimate is over its budget before any
// byte of the answer leaves. Text over MaxTextRunes, blank text or an
// unknown voice are speech.ErrBadInput, as in Synthesize.
func (s *Synthesizer) Estimate(ctx context.Context, req speech.SynthesisRequest) (time.Duration, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("flite: estimate: %w", speech.ErrClosed)
	}
	text, err := CleanText(req.Text)
	if err != nil {
		return 0, err
	}
	vi := s.defaultVoice
	if req.Voice != "" {
		var ok bool
		if vi, ok = voiceIndex(req.Voice); !ok {
			return 0, fmt.Errorf("flite: unknown voice %q (have kal16, slt, rms, awb): %w", clip(req.Voice), speech.ErrBadInput)
		}
	}
	stretch, err := durationStretch(req.Speed)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("flite: estimate: %w", err)
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := C.izwi_flite_phones(s.voices[vi], ctext)
	runtime.KeepAlive(s)
	if n < 0 {
		return 0, fmt.Errorf("flite: estimate: text analysis failed")
	}
	return time.Duration(math.Ceil((float64(n)*float64(phoneBound[vi]) + float64(uttSlack)) * float64(stretch))), nil
}
