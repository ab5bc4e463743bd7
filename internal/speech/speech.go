// Package speech owns Izwi's engine-neutral speech types and the small
// interfaces every engine implements: streaming recognition, file
// transcription, voice activity detection, speaker embedding and synthesis.
//
// It is pure Go and imports no engine. Engine packages (sherpa, pocketsphinx,
// flite) import it and register constructors in a Registry built by the
// composition root (cmd/izwi); nothing here holds package-level state.
//
// Audio crosses every interface as mono float32 samples in [-1, 1] at the
// sample rate the engine declares; callers convert with package audio.
package speech

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Sentinel errors shared by all engines. Engines wrap them with %w so callers
// can test with errors.Is without knowing which engine answered.
var (
	// ErrUnknownEngine means no constructor is registered under that name.
	ErrUnknownEngine = errors.New("speech: unknown engine")
	// ErrUnsupported means the engine cannot do what was asked (a role it
	// lacks, or an option such as hotwords it does not honour).
	ErrUnsupported = errors.New("speech: not supported by this engine")
	// ErrClosed means the object was used after Close.
	ErrClosed = errors.New("speech: closed")
	// ErrBadAudio means the samples given cannot be used (wrong rate, NaN...).
	ErrBadAudio = errors.New("speech: bad audio")
	// ErrModel means a model is missing, fails verification or fails to load.
	ErrModel = errors.New("speech: model unavailable")
	// ErrBadInput means a request is unusable (empty text, unknown voice...).
	ErrBadInput = errors.New("speech: bad input")
	// ErrUnavailable means the engine cannot serve right now (network
	// failure, TLS failure, 401/403, 429, 5xx, a stall): a chain fails over
	// to its next engine. Errors that wrap ErrBadAudio or ErrBadInput must
	// never fail over (the input is bad, not the engine).
	ErrUnavailable = errors.New("speech: engine unavailable")
)

// FailsOver reports whether err means the engine, not the input, failed: it
// wraps ErrUnavailable and neither ErrBadAudio nor ErrBadInput.
func FailsOver(err error) bool {
	return errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrBadAudio) && !errors.Is(err, ErrBadInput)
}

// Word is one recognised word with its timing relative to the start of the
// stream (or file) and the engine's confidence in [0, 1].
type Word struct {
	Text       string        `json:"word"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end"`
	Confidence float32       `json:"confidence"`
}

// Result is a recognition hypothesis for one segment (utterance) of a
// stream. A partial result may be revised by later results with the same
// Segment number; a final one never is.
type Result struct {
	Segment    int           `json:"segment"`
	Text       string        `json:"text"`
	Words      []Word        `json:"words,omitempty"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end"`
	Confidence float32       `json:"confidence"`
	Final      bool          `json:"final"`
	// Speaker is empty until an identifier fills it.
	Speaker string `json:"speaker,omitempty"`
	// Engine names the engine that produced the result. Chains set it;
	// plain engines may leave it empty.
	Engine string `json:"engine,omitempty"`
}

// Transcript is the whole result of transcribing a file.
type Transcript struct {
	Text     string        `json:"text"`
	Language string        `json:"language,omitempty"`
	Duration time.Duration `json:"duration"`
	Segments []Result      `json:"segments"`
}

// StreamOptions tune one recognition stream.
type StreamOptions struct {
	// Hotwords boosts these words or phrases where the engine supports it
	// (sherpa transducers; PocketSphinx adds them to its dictionary when it
	// can spell them). An engine that cannot honour them returns
	// ErrUnsupported from NewStream.
	Hotwords []string
	// Context is prepared text: what is expected to be said (readings,
	// hymns, names, notes), at most prepare.MaxTextBytes. Engines adapt to
	// it as they can (PocketSphinx: an interpolated n-gram model and
	// pronunciations for new words; sherpa transducers: hotwords from its
	// rare words) and share the adaptation between streams given the same
	// text; an engine that cannot use it ignores it. Held in memory only.
	Context string
	// Events, if set, receives a chain's engine switches and catch-up
	// results, always from the goroutine calling Accept or Flush (catch-up
	// finished in the background is delivered on the next call). Plain
	// engines ignore it.
	Events func(StreamEvent)
	// KeepForCatchUp asks a chain to hold the audio a fallback engine
	// served (in memory only, sealed with an ephemeral key, bounded) and
	// re-transcribe it with the primary when it returns. Set only when the
	// session keeps its transcript (opt-in). Plain engines ignore it.
	KeepForCatchUp bool
}

// Pronouncer spells a word as phones by letter-to-sound rules, for words
// no dictionary holds. Phones are ARPAbet (the CMU dictionary's set) in
// upper case without stress marks ("IH Z W IY"). Safe for concurrent use.
type Pronouncer interface {
	Pronounce(word string) ([]string, error)
}

// ContextReport says what a prepared text became for an engine, for the
// session view and status pages: the words it added to the engine's
// vocabulary, the size of its adaptation and the time to build it.
type ContextReport struct {
	Engine     string        `json:"engine"`
	Words      int           `json:"words"`               // distinct words in the text
	Added      []string      `json:"added,omitempty"`     // new to the engine, pronounced by rules
	Dropped    int           `json:"dropped"`             // neither known nor pronounceable
	Terms      []string      `json:"key_terms,omitempty"` // engines that take a short list
	NGrams     int           `json:"ngrams,omitempty"`    // PocketSphinx's prepared model
	ModelBytes int           `json:"model_bytes,omitempty"`
	BuildTime  time.Duration `json:"build_time"`
}

// ContextReporter is implemented by recognizers that adapt to prepared
// text (StreamOptions.Context): ContextReport tells what text became, once
// a stream has been opened with it.
type ContextReporter interface {
	ContextReport(text string) (ContextReport, bool)
}

// ContextStats sums up the prepared-text adaptations an engine keeps, for
// /readyz: how many, their size and the cost of building them — counts,
// never words.
type ContextStats struct {
	Engine    string        `json:"engine"`
	Cached    int           `json:"cached"`   // adaptations held now
	Capacity  int           `json:"capacity"` // at most this many are held
	Bytes     int           `json:"bytes"`    // their models' size
	Builds    int64         `json:"builds"`   // built since the engine loaded
	LastBuild time.Duration `json:"last_build"`
}

// ContextStatser is implemented by recognizers that keep adaptations of
// prepared text between streams (a chain: one entry per such engine).
type ContextStatser interface {
	ContextStats() []ContextStats
}

// Kinds of StreamEvent.
const (
	EventSwitch  = "switch"
	EventCatchUp = "catchup"
)

// StreamEvent is something a chain tells its caller about a stream besides
// results: an engine switch, or the primary's re-transcription of a span a
// fallback served.
type StreamEvent struct {
	Kind string // EventSwitch or EventCatchUp
	From string // engine names
	To   string
	// Reason of a switch: "stall", "reset", "tls", "auth", "rate_limited",
	// "server_error", "recovered".
	Reason string
	At     time.Duration    // stream time of the event
	Span   [2]time.Duration // catchup: the re-transcribed span
	// Results are, for a catchup, the primary's finals for Span, replacing
	// the fallback's.
	Results []Result
}

// Recognizer is a loaded streaming speech-to-text model.
//
// Contract: a Recognizer is safe for concurrent use; each NewStream returns
// an independent Stream sharing the loaded model. Close releases the model
// and must be called only after every Stream has been closed.
type Recognizer interface {
	// SampleRate is the rate, in Hz, of the samples its streams accept.
	SampleRate() int
	NewStream(ctx context.Context, opts StreamOptions) (Stream, error)
	Info() EngineInfo
	Close() error
}

// Stream is one utterance-by-utterance recognition over pushed audio.
//
// Contract: a Stream is used by one goroutine at a time. Accept returns the
// results that became available (zero or more partials, and a final whenever
// the engine's endpointing closes a segment). Flush ends the current segment
// as if the speaker stopped and returns its final result, if any; the stream
// stays usable. Reset drops all buffered audio and hypotheses. Segment
// numbers and timestamps keep increasing across Flush; Reset restarts both.
//
// Every call that may block takes ctx: local engines check ctx.Err() before
// working, network engines bound every wait by it, and a cancelled ctx makes
// the call return promptly with an error wrapping ctx.Err(). An engine that
// cannot serve right now returns an error wrapping ErrUnavailable; bad
// samples give ErrBadAudio, never ErrUnavailable. Close never blocks long.
type Stream interface {
	Accept(ctx context.Context, samples []float32) ([]Result, error)
	Flush(ctx context.Context) ([]Result, error)
	Reset(ctx context.Context) error
	Close() error
}

// StreamCounter is implemented by recognizers that know how many streams
// they have open and how many they can have (a fixed decoder pool):
// /metrics shows both, so an operator sees capacity before callers are
// refused. Capacity 0 means no fixed bound.
type StreamCounter interface {
	Streams() (inUse, capacity int)
}

// TranscribeOptions tune a file transcription.
type TranscribeOptions struct {
	Language string
	// Prompt is prepared text (OpenAI's prompt, `izwi transcribe
	// --context`): vocabulary or text expected in the recording, used as
	// StreamOptions.Context; engines that cannot use it ignore it.
	Prompt   string
	Hotwords []string
	// Progress, if set, is called with the seconds of audio processed so far.
	Progress func(done time.Duration)
}

// Transcriber turns a whole recording into a Transcript.
//
// Contract: safe for concurrent use; honours ctx cancellation between
// chunks; samples are mono at SampleRate().
type Transcriber interface {
	SampleRate() int
	Transcribe(ctx context.Context, samples []float32, opts TranscribeOptions) (Transcript, error)
	Info() EngineInfo
	Close() error
}

// SpeechSegment is a span of audio a VAD judged to be speech.
type SpeechSegment struct {
	Start   time.Duration
	Samples []float32
}

// End returns when the segment stops, given the detector's sample rate.
func (s SpeechSegment) End(sampleRate int) time.Duration {
	return s.Start + SamplesToDuration(len(s.Samples), sampleRate)
}

// VAD is a loaded voice activity model that makes per-stream detectors.
//
// Contract: safe for concurrent NewDetector calls; each Detector is used by
// one goroutine at a time.
type VAD interface {
	SampleRate() int
	NewDetector() (Detector, error)
	Info() EngineInfo
	Close() error
}

// Detector finds speech in pushed audio.
//
// Contract: Accept returns the segments completed by this push; Speaking
// reports whether speech is in progress right now (for "speech started"
// events); Flush returns a segment still open at end of input.
type Detector interface {
	Accept(samples []float32) ([]SpeechSegment, error)
	Speaking() bool
	Flush() ([]SpeechSegment, error)
	Close() error
}

// Embedder turns a span of one person's speech into a fixed-size voiceprint.
//
// Contract: safe for concurrent use; Embed returns a vector of length Dim().
type Embedder interface {
	SampleRate() int
	Dim() int
	Embed(ctx context.Context, samples []float32) ([]float32, error)
	Info() EngineInfo
	Close() error
}

// Voice describes one voice a Synthesizer offers.
type Voice struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Language string `json:"language,omitempty"`
	Gender   string `json:"gender,omitempty"`
}

// SynthesisRequest asks for speech.
type SynthesisRequest struct {
	Text  string
	Voice string  // a Voice.ID; empty picks the default voice
	Speed float32 // 1.0 is normal; 0 means 1.0
}

// Synthesizer turns text into speech.
//
// Contract: safe for concurrent use. Synthesize calls sink with consecutive
// chunks of mono samples at SampleRate() as they are made (so callers can
// stream), stops early and returns sink's error if sink fails, and honours
// ctx between chunks.
type Synthesizer interface {
	SampleRate() int
	Voices() []Voice
	Synthesize(ctx context.Context, req SynthesisRequest, sink func(samples []float32) error) error
	Info() EngineInfo
	Close() error
}

// EngineInfo describes a loaded engine for /readyz, `izwi version` and logs.
type EngineInfo struct {
	// Engine is the registered name ("pocketsphinx", "sherpa", "flite").
	Engine string `json:"engine"`
	// Role is what this instance does: "asr", "transcribe", "vad", "speaker", "tts".
	Role string `json:"role"`
	// Model names the loaded model ("en-us", "streaming-zipformer-en-20M-2023-02-17").
	Model string `json:"model"`
	// Library is the native library and its version ("pocketsphinx 5prealpha").
	Library string `json:"library,omitempty"`
	// Files lists each model file with its verified SHA-256.
	Files []ModelFile `json:"files,omitempty"`
	// Languages are the ISO 639-1 codes ("en") a recogniser hears; empty
	// means it takes whatever language it is asked for (a multilingual
	// model, or a cloud engine that checks the code itself). The API
	// refuses a language outside a non-empty list rather than ignore it.
	Languages []string `json:"languages,omitempty"`
}

// ModelFile is a model file that was checked before loading.
type ModelFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// SamplesToDuration converts a sample count at rate Hz to a duration.
func SamplesToDuration(n, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(int64(n) * int64(time.Second) / int64(rate))
}

// CheckSamples returns ErrBadAudio if any sample is NaN or infinite. Engines
// call it before handing samples to native code, which may not cope.
func CheckSamples(samples []float32) error {
	for i, v := range samples {
		if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
			return fmt.Errorf("%w: sample %d is %v", ErrBadAudio, i, v)
		}
	}
	return nil
}
