// Package recognize owns Izwi's one recognition pipeline: mono audio ►
// voice activity detection ► a speech stream (one engine or a chain) ►
// results, speech events and engine switches, with a context on every
// engine call. Live sessions, /v1/listen and /v1/converse all recognise
// through it: Pipeline runs in the caller's goroutine (what /v1/listen
// needs, so a Deepgram client's every byte is answered in order), Async
// puts a bounded queue and one owned goroutine in front of it (live
// sessions and conversations, whose writers must never wait for a
// recognizer).
//
// It imports the speech contracts, audio and speaker, never HTTP, storage
// or the bus.
package recognize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
)

var (
	// ErrNoEngine means no streaming recognizer is loaded.
	ErrNoEngine = errors.New("recognize: no streaming recognizer loaded")
	// ErrBadConfig means the pipeline cannot be built as asked (an engine
	// that cannot honour hotwords).
	ErrBadConfig = errors.New("recognize: bad pipeline config")
	// ErrBusy means the recognizer had no free stream within
	// Config.StreamWait: every decoder is in use. Callers answer it as a
	// capacity refusal (429/503, close 4029), never as a server fault.
	ErrBusy = errors.New("recognize: every recognizer stream is in use")
	// ErrClosed is returned by calls after Close; it wraps speech.ErrClosed.
	ErrClosed = fmt.Errorf("recognize: pipeline closed: %w", speech.ErrClosed)
)

// DefaultStreamWait bounds the wait for a free recognizer stream: beyond it
// a caller is refused with ErrBusy, well inside the one second every caller
// at capacity is promised an answer in.
const DefaultStreamWait = 500 * time.Millisecond

// Config tunes one pipeline. Zero values are sane defaults.
type Config struct {
	Recognizer speech.Recognizer // required
	// VAD is optional: it drives speech-started and utterance-end events
	// and the silence clock. Its audio is resampled if its rate differs.
	VAD speech.VAD
	// Hotwords are passed to NewStream; an engine that cannot honour them
	// makes New fail with an error wrapping ErrBadConfig.
	Hotwords []string
	// Context is prepared text, passed to NewStream (speech.StreamOptions).
	Context string
	// FinalizeAtSpeechEnd ends the open segment as soon as the VAD closes a
	// speech segment (after its own minimum silence).
	FinalizeAtSpeechEnd bool
	// Endpointing ends the open segment after this much VAD silence (0:
	// only the engine's own endpointing and the options above end it).
	Endpointing time.Duration
	// UtteranceEndGap emits KindUtteranceEnd (finalizing the open segment)
	// after this much silence following words; 0 never emits it.
	UtteranceEndGap time.Duration
	// Speakers, when set, names who speaks: it sees every sample with the
	// VAD's verdict, and each result gets the label covering its span.
	Speakers SpeakerTracker
	// Snippet, when set, receives each final result whose confidence is
	// below SnippetBelow with its audio (the last 30 s are held for it).
	// Called from the pipeline's goroutine: it must not block.
	Snippet      func(e Event, samples []float32)
	SnippetBelow float32
	// StreamWait bounds the wait for a recognizer stream (engines with a
	// fixed decoder pool); beyond it the call fails with ErrBusy. Default
	// DefaultStreamWait.
	StreamWait time.Duration
	// KeepForCatchUp is passed to the stream: set it only when the
	// session keeps its transcript (opt-in).
	KeepForCatchUp bool
	Logger         *slog.Logger
}

// SpeakerTracker decides who is speaking in one stream (a *speaker.Tracker).
// Times are from the start of the pipeline's audio.
type SpeakerTracker interface {
	Accept(ctx context.Context, samples []float32, speech bool) error
	SpeakerAt(start, end time.Duration) speaker.Label
	Current() speaker.Label
}

var _ SpeakerTracker = (*speaker.Tracker)(nil)

// Kind says what an Event carries.
type Kind uint8

const (
	// KindResult: a recognition result (partial or final) in Result.
	KindResult Kind = iota + 1
	// KindSpeechStarted: the VAD heard speech begin at At.
	KindSpeechStarted
	// KindUtteranceEnd: speech stopped; At is the end of the last word.
	KindUtteranceEnd
	// KindSwitch: the engine chain moved the stream to another engine
	// (Stream.From, Stream.To, Stream.Reason) at At.
	KindSwitch
	// KindCatchUp: the primary engine re-transcribed Stream.Span, which a
	// fallback served; Stream.Results replace the fallback's finals there.
	KindCatchUp
)

// Event is what a pipeline emits. All times are from the pipeline's first
// sample: a caller that continues an earlier clock adds its own offset.
type Event struct {
	Kind   Kind
	Result speech.Result // KindResult; Speaker is set when a tracker names one
	// SpeakerConfidence goes with Result.Speaker.
	SpeakerConfidence float32
	At                time.Duration      // KindSpeechStarted, KindUtteranceEnd, KindSwitch
	Stream            speech.StreamEvent // KindSwitch, KindCatchUp
}

// snippetHold is how much recent audio a pipeline keeps for snippets.
const snippetHold = 30 * time.Second

func (c *Config) defaults() error {
	if c.Recognizer == nil {
		return ErrNoEngine
	}
	if c.StreamWait <= 0 {
		c.StreamWait = DefaultStreamWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
