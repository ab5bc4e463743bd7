package sherpa

import (
	"context"
	"fmt"
	"maps"
	"sync"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// vadRate is Silero's usual rate; a catalogue entry may declare 8000.
const vadRate = 16000

// vadBufferSeconds sizes sherpa-onnx's internal circular buffer; it grows
// on demand, so this is a starting size, not a limit on segment length.
const vadBufferSeconds = 30

// VAD options (Spec.Options), all optional; defaults come from the
// catalogue entry's meta (threshold, min_silence_duration,
// min_speech_duration, max_speech_duration, window_size, sample_rate), then
// from these built-ins:
//
//	threshold    speech probability threshold, 0.5
//	min_silence  seconds of silence that end a segment, 0.5
//	min_speech   shortest segment kept, seconds, 0.25
//	max_speech   after this many seconds sherpa-onnx ends segments more
//	             eagerly (threshold 0.9, 0.1 s silence), 20
//	window       Silero window in samples, 512 (v5 needs 512 at 16 kHz)
var vadOptions = []string{"threshold", "min_silence", "min_speech", "max_speech", "window"}

// vadMetaKeys maps each option to its catalogue meta key.
var vadMetaKeys = map[string]string{"threshold": "threshold", "min_silence": "min_silence_duration",
	"min_speech": "min_speech_duration", "max_speech": "max_speech_duration", "window": "window_size"}

// VAD is a Silero voice activity model loaded through sherpa-onnx. It holds
// only the validated configuration: every Detector gets its own native
// detector (and onnxruntime session), so detectors share nothing mutable.
type VAD struct {
	cfg  sherpa.VadModelConfig
	info speech.EngineInfo
	rate int

	// hold keeps the detector made at load time alive until Close. Each
	// native detector takes a reference on onnxruntime's process-wide
	// environment; when the last one is released while another thread
	// creates one, onnxruntime aborts the process ("Only one instance of
	// LoggingManager … can exist"), seen when a stream's detector closed
	// as the next stream's opened. With hold the count never reaches zero
	// while the VAD is open.
	hold *sherpa.VoiceActivityDetector

	mu     sync.RWMutex
	closed bool
}

var _ speech.VAD = (*VAD)(nil)

// NewVAD is the registry factory for the "sherpa" (alias "silero") VAD. The
// model needs one role, "model" (silero_vad.onnx); its catalogue family, if
// set, must be "vad-silero" (package models' name), "silero-vad" or "silero".
func NewVAD(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.VAD, error) {
	m, err := resolve(ctx, spec, deps, "vad")
	if err != nil {
		return nil, err
	}
	return newVAD(m, spec)
}

// newVAD loads m, checking the options and that the model really loads.
func newVAD(m speech.ResolvedModel, spec speech.Spec) (*VAD, error) {
	if err := checkOptions(spec.Options, vadOptions...); err != nil {
		return nil, err
	}
	if err := checkFamily(m, "vad", "vad-silero", "silero-vad", "silero"); err != nil {
		return nil, err
	}
	if err := requireFiles(m, "model"); err != nil {
		return nil, err
	}
	rate := vadRate
	if r := m.Meta["sample_rate"]; r != "" {
		if r != "8000" && r != "16000" {
			return nil, fmt.Errorf("sherpa: vad: model %q sample_rate %q: %w", m.Name, r, speech.ErrModel)
		}
		rate = 8000
		if r == "16000" {
			rate = 16000
		}
	}
	// Catalogue settings are the defaults; spec options override them.
	o := map[string]string{}
	for opt, key := range vadMetaKeys {
		if v, ok := m.Meta[key]; ok {
			o[opt] = v
		}
	}
	maps.Copy(o, spec.Options)
	threshold, err := floatOption(o, "threshold", 0.5, 0.01, 0.99)
	if err != nil {
		return nil, err
	}
	minSilence, err := floatOption(o, "min_silence", 0.5, 0.01, 10)
	if err != nil {
		return nil, err
	}
	minSpeech, err := floatOption(o, "min_speech", 0.25, 0.01, 10)
	if err != nil {
		return nil, err
	}
	maxSpeech, err := floatOption(o, "max_speech", 20, 1, 600)
	if err != nil {
		return nil, err
	}
	window, err := intOption(o, "window", 512, 64, 4096)
	if err != nil {
		return nil, err
	}
	v := &VAD{
		cfg: sherpa.VadModelConfig{
			SileroVad: sherpa.SileroVadModelConfig{
				Model:              m.File("model"),
				Threshold:          threshold,
				MinSilenceDuration: minSilence,
				MinSpeechDuration:  minSpeech,
				MaxSpeechDuration:  maxSpeech,
				WindowSize:         window,
			},
			SampleRate: rate,
			NumThreads: threads(spec),
			Provider:   "cpu",
		},
		info: info("vad", m),
		rate: rate,
	}
	// Load once now so a model that cannot load fails at start-up, not on
	// the first live stream.
	d := sherpa.NewVoiceActivityDetector(&v.cfg, vadBufferSeconds)
	if d == nil {
		return nil, fmt.Errorf("sherpa: vad: model %q failed to load: %w", m.Name, speech.ErrModel)
	}
	v.hold = d
	return v, nil
}

// SampleRate is the model's rate, 16 kHz unless the catalogue says 8 kHz.
func (v *VAD) SampleRate() int { return v.rate }

// Info describes the loaded model.
func (v *VAD) Info() speech.EngineInfo { return v.info }

// NewDetector returns an independent detector for one stream.
func (v *VAD) NewDetector() (speech.Detector, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, fmt.Errorf("sherpa: vad: %w", speech.ErrClosed)
	}
	cfg := v.cfg
	d := sherpa.NewVoiceActivityDetector(&cfg, vadBufferSeconds)
	if d == nil {
		return nil, fmt.Errorf("sherpa: vad: detector failed to load: %w", speech.ErrModel)
	}
	return &detector{vad: d, window: cfg.SileroVad.WindowSize, rate: v.rate}, nil
}

// Close stops new detectors; detectors already made stay usable until
// their own Close.
func (v *VAD) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed && v.hold != nil {
		sherpa.DeleteVoiceActivityDetector(v.hold)
		v.hold = nil
	}
	v.closed = true
	return nil
}

// detector wraps one native VoiceActivityDetector. Used by one goroutine at
// a time (speech.Detector contract), so it needs no lock.
type detector struct {
	vad    *sherpa.VoiceActivityDetector
	window int // samples per native AcceptWaveform call
	rate   int
}

var _ speech.Detector = (*detector)(nil)

func (d *detector) Accept(samples []float32) ([]speech.SpeechSegment, error) {
	if d.vad == nil {
		return nil, fmt.Errorf("sherpa: vad: %w", speech.ErrClosed)
	}
	if err := speech.CheckSamples(samples); err != nil {
		return nil, fmt.Errorf("sherpa: vad: %w", err)
	}
	if len(samples) == 0 {
		return nil, nil
	}
	// sherpa-onnx ORs the speech decisions of every window in one
	// AcceptWaveform call, so a long push would merge segments and miss
	// their ends: feed it one window at a time, as it expects.
	var out []speech.SpeechSegment
	for off := 0; off < len(samples); off += d.window {
		d.vad.AcceptWaveform(samples[off:min(off+d.window, len(samples))])
		out = append(out, d.drain()...)
	}
	return out, nil
}

func (d *detector) Speaking() bool {
	return d.vad != nil && d.vad.IsSpeech()
}

func (d *detector) Flush() ([]speech.SpeechSegment, error) {
	if d.vad == nil {
		return nil, fmt.Errorf("sherpa: vad: %w", speech.ErrClosed)
	}
	d.vad.Flush()
	return d.drain(), nil
}

// drain pops every completed segment. Start comes from the detector's own
// sample offset (counted from its creation), not from our bookkeeping.
func (d *detector) drain() []speech.SpeechSegment {
	var out []speech.SpeechSegment
	for !d.vad.IsEmpty() {
		s := d.vad.Front()
		d.vad.Pop()
		out = append(out, speech.SpeechSegment{
			Start:   speech.SamplesToDuration(s.Start, d.rate),
			Samples: s.Samples,
		})
	}
	return out
}

func (d *detector) Close() error {
	if d.vad != nil {
		sherpa.DeleteVoiceActivityDetector(d.vad)
		d.vad = nil
	}
	return nil
}
