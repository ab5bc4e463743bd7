// Package flite is Izwi's zero-download text-to-speech engine: a
// speech.Synthesizer over CMU Flite 2.2 (Debian flite1-dev) through cgo,
// with the 16 kHz US English voices linked in (kal16, slt, rms, awb).
//
// Only the composition root imports it, through Register. Flite's C side
// keeps process-global voices; glue.c registers them once per process and
// never writes to them again, so Go code holds no package-level state.
//
// Engine options (speech.Spec.Options):
//
//	voice  default voice when Spec.Model is empty ("slt" if neither is set)
package flite

/*
#cgo CFLAGS: -I/usr/include/flite
#cgo LDFLAGS: -lflite_cmu_us_kal16 -lflite_cmu_us_slt -lflite_cmu_us_rms -lflite_cmu_us_awb -lflite_usenglish -lflite_cmulex -lflite -lm -lpthread
#include <stdlib.h>
#include <flite_version.h>
#include "glue.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/izwi-speech/izwi/internal/speech"
)

// EngineName is the name Register uses in the registry.
const EngineName = "flite"

// SampleRate is the rate of every voice this engine offers. Flite's 8 kHz
// "kal" voice is left out rather than resampled.
const SampleRate = 16000

// DefaultVoice is used when neither Spec.Model nor the voice option is set.
const DefaultVoice = "slt"

// Speed limits: Speed maps to Flite's duration_stretch = 1/Speed, clamped
// so a request cannot ask for absurdly slow (long, costly) or unintelligibly
// fast speech.
const (
	minStretch = 0.25
	maxStretch = 4
)

// MaxAudio caps the audio one request may make. Flite's work grows with
// the audio it makes, and a short text can ask for a lot (5,000 digits read
// one by one at speed 0.25), so the text cap alone does not bound a
// request's cost. 5,000 characters of prose at normal speed is about 6 min.
const MaxAudio = 15 * time.Minute

// minChunk is the smallest chunk, in samples, Flite's streaming callback
// delivers (64 ms): small enough for a prompt first chunk, large enough that
// cgo call overhead stays negligible.
const minChunk = 1024

// builtinVoices lists the built-in voices in the order glue.c registers
// them (a function, so no package-level variable can be changed).
func builtinVoices() [C.IZWI_FLITE_NVOICES]speech.Voice {
	return [...]speech.Voice{
		{ID: "kal16", Name: "CMU US Kal (diphone)", Language: "en-US", Gender: "male"},
		{ID: "slt", Name: "CMU US SLT (clustergen)", Language: "en-US", Gender: "female"},
		{ID: "rms", Name: "CMU US RMS (clustergen)", Language: "en-US", Gender: "male"},
		{ID: "awb", Name: "CMU US AWB (clustergen)", Language: "en-US", Gender: "male"},
	}
}

// Register adds the Flite synthesizer to r under EngineName.
func Register(r *speech.Registry) {
	r.Synthesizers.Register(EngineName, func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Synthesizer, error) {
		return New(spec)
	})
}

// Synthesizer speaks text with Flite. It is safe for concurrent use, and
// concurrent requests run in parallel without a lock: once registered,
// Flite's voices, lexicon and regexes are only read during synthesis, all
// per-request state lives in the request's own utterances, and helgrind
// (testdata/helgrind.c, threads sharing voices) reports no data races.
// Output is bit-reproducible for kal16 only: Flite's clustergen voices
// (slt, rms, awb) draw unvoiced excitation noise from libc rand().
type Synthesizer struct {
	voices       []unsafe.Pointer // cst_voice*, indexed like builtinVoices
	defaultVoice int
	closed       atomic.Bool
}

var _ speech.Synthesizer = (*Synthesizer)(nil)

// New loads the built-in voices and picks the default one from spec.Model
// or the "voice" option.
func New(spec speech.Spec) (*Synthesizer, error) {
	name := spec.Model
	for k, v := range spec.Options {
		switch k {
		case "voice":
			if name == "" {
				name = v
			} else if v != name {
				return nil, fmt.Errorf("flite: model %q and voice option %q disagree: %w", name, v, speech.ErrBadInput)
			}
		default:
			return nil, fmt.Errorf("flite: unknown option %q: %w", k, speech.ErrUnsupported)
		}
	}
	if name == "" {
		name = DefaultVoice
	}
	def, ok := voiceIndex(name)
	if !ok {
		return nil, fmt.Errorf("flite: no voice %q (have kal16, slt, rms, awb): %w", name, speech.ErrModel)
	}
	s := &Synthesizer{defaultVoice: def}
	for i, bv := range builtinVoices() {
		v := C.izwi_flite_voice(C.int(i))
		if v == nil {
			return nil, fmt.Errorf("flite: voice %q failed to register: %w", bv.ID, speech.ErrModel)
		}
		s.voices = append(s.voices, v)
	}
	return s, nil
}

func voiceIndex(id string) (int, bool) {
	for i, v := range builtinVoices() {
		if v.ID == id {
			return i, true
		}
	}
	return 0, false
}

// SampleRate is 16000 for every voice.
func (s *Synthesizer) SampleRate() int { return SampleRate }

// Voices lists the built-in voices.
func (s *Synthesizer) Voices() []speech.Voice {
	vs := builtinVoices()
	return vs[:]
}

// Info names the engine and its default voice.
func (s *Synthesizer) Info() speech.EngineInfo {
	return speech.EngineInfo{
		Engine:  EngineName,
		Role:    "tts",
		Model:   builtinVoices()[s.defaultVoice].ID,
		Library: "flite " + C.FLITE_PROJECT_VERSION,
	}
}

// Close marks the synthesizer closed. Flite's voices are process-wide and
// stay loaded for other synthesizers.
func (s *Synthesizer) Close() error {
	s.closed.Store(true)
	return nil
}

// Synthesize speaks req.Text, calling sink with each chunk as Flite makes
// it. Flite's audio streaming callback (cst_audio_streaming_info on each
// utterance) delivers chunks of at least minChunk samples while an
// utterance is still being synthesised, and text is split into utterances
// with Flite's own sentence-break rule (plus clause breaks inside long
// sentences, see glue.c), so the first chunk arrives after part of the
// first sentence, not after the whole text. ctx is checked before every
// chunk; a sink error stops Flite and is returned. A request that would
// run past MaxAudio stops there with speech.ErrBadInput, after the audio
// up to the cap has reached sink.
func (s *Synthesizer) Synthesize(ctx context.Context, req speech.SynthesisRequest, sink func(samples []float32) error) error {
	if s.closed.Load() {
		return fmt.Errorf("flite: synthesize: %w", speech.ErrClosed)
	}
	if sink == nil {
		return fmt.Errorf("flite: nil sink: %w", speech.ErrBadInput)
	}
	text, err := CleanText(req.Text)
	if err != nil {
		return err
	}
	vi := s.defaultVoice
	if req.Voice != "" {
		var ok bool
		if vi, ok = voiceIndex(req.Voice); !ok {
			return fmt.Errorf("flite: unknown voice %q (have kal16, slt, rms, awb): %w", clip(req.Voice), speech.ErrBadInput)
		}
	}
	stretch, err := durationStretch(req.Speed)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("flite: synthesize: %w", err)
	}

	r := &request{ctx: ctx, sink: sink, rate: SampleRate, limit: int(MaxAudio.Seconds()) * SampleRate}
	h := cgo.NewHandle(r)
	defer h.Delete()
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))

	rc := C.izwi_flite_synth(s.voices[vi], ctext, C.float(stretch), C.uintptr_t(h), minChunk)
	runtime.KeepAlive(s)
	if r.panicked != nil {
		panic(r.panicked)
	}
	switch {
	case r.err != nil:
		if ctx.Err() != nil && r.err == ctx.Err() {
			return fmt.Errorf("flite: synthesize: %w", r.err)
		}
		return r.err
	case rc != C.IZWI_FLITE_DONE:
		return fmt.Errorf("flite: synthesis failed (code %d)", int(rc))
	case r.sent == 0:
		return fmt.Errorf("flite: text has nothing speakable: %w", speech.ErrBadInput)
	}
	return nil
}

// durationStretch maps a request speed to Flite's duration_stretch.
func durationStretch(speed float32) (float32, error) {
	if speed == 0 {
		return 1, nil
	}
	if speed < 0 || math.IsNaN(float64(speed)) || math.IsInf(float64(speed), 0) {
		return 0, fmt.Errorf("flite: speed %v must be a positive number: %w", speed, speech.ErrBadInput)
	}
	return min(max(1/speed, minStretch), maxStretch), nil
}

// clip shortens a caller-supplied name before it goes into an error.
func clip(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

var errSinkPanicked = errors.New("flite: sink panicked")

func errTooLong(limit, rate int) error {
	return fmt.Errorf("flite: text would make more than %v of audio: %w",
		speech.SamplesToDuration(limit, rate), speech.ErrBadInput)
}

func errRate(got, want int) error {
	return fmt.Errorf("flite: voice produced %d Hz audio, want %d: %w", got, want, speech.ErrModel)
}
