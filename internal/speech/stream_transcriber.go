package speech

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// streamChunk is how much audio StreamTranscriber pushes per Accept call.
// Large enough that per-call overhead vanishes, small enough that
// cancellation and progress stay responsive.
const streamChunkSeconds = 2

// StreamTranscriber adapts a streaming Recognizer into a file Transcriber by
// pushing the file through one stream and keeping the final results. Engines
// whose file mode is their streaming mode (PocketSphinx) use it; the
// Transcriber is a StreamSource, so a caller that wants a file's results as
// they come streams it through the same recognizer and gets the same words.
func StreamTranscriber(rec Recognizer) Transcriber {
	return streamTranscriber{rec}
}

// StreamSource is a Transcriber made of a streaming Recognizer
// (StreamTranscriber): Streaming returns it.
type StreamSource interface{ Streaming() Recognizer }

type streamTranscriber struct{ rec Recognizer }

var (
	_ Transcriber  = streamTranscriber{}
	_ StreamSource = streamTranscriber{}
)

// Streaming returns the wrapped recognizer.
func (t streamTranscriber) Streaming() Recognizer { return t.rec }

func (t streamTranscriber) SampleRate() int { return t.rec.SampleRate() }

func (t streamTranscriber) Info() EngineInfo {
	info := t.rec.Info()
	info.Role = "transcribe"
	return info
}

// ContextStats reports the wrapped recognizer's prepared-text
// adaptations (none when it keeps none).
func (t streamTranscriber) ContextStats() []ContextStats {
	if cs, ok := t.rec.(ContextStatser); ok {
		return cs.ContextStats()
	}
	return nil
}

// Close closes the wrapped recognizer.
func (t streamTranscriber) Close() error { return t.rec.Close() }

func (t streamTranscriber) Transcribe(ctx context.Context, samples []float32, opts TranscribeOptions) (Transcript, error) {
	st, err := t.rec.NewStream(ctx, StreamOptions{Hotwords: opts.Hotwords, Context: opts.Prompt})
	if err != nil {
		return Transcript{}, err
	}
	defer st.Close()

	rate := t.rec.SampleRate()
	chunk := streamChunkSeconds * rate
	var finals []Result
	keep := func(rs []Result) {
		for _, r := range rs {
			if r.Final && strings.TrimSpace(r.Text) != "" {
				finals = append(finals, r)
			}
		}
	}
	for off := 0; off < len(samples); off += chunk {
		if err := ctx.Err(); err != nil {
			return Transcript{}, fmt.Errorf("speech: transcription cancelled: %w", err)
		}
		end := min(off+chunk, len(samples))
		rs, err := st.Accept(ctx, samples[off:end])
		if err != nil {
			return Transcript{}, err
		}
		keep(rs)
		if opts.Progress != nil {
			opts.Progress(SamplesToDuration(end, rate))
		}
	}
	rs, err := st.Flush(ctx)
	if err != nil {
		return Transcript{}, err
	}
	keep(rs)
	return NewTranscript(finals, SamplesToDuration(len(samples), rate)), nil
}

// NewTranscript assembles a Transcript from final segment results,
// renumbering segments from 0 and joining their text with single spaces.
func NewTranscript(finals []Result, duration time.Duration) Transcript {
	tr := Transcript{Duration: duration, Segments: make([]Result, 0, len(finals))}
	texts := make([]string, 0, len(finals))
	for i, r := range finals {
		r.Segment = i
		r.Final = true
		tr.Segments = append(tr.Segments, r)
		texts = append(texts, strings.TrimSpace(r.Text))
	}
	tr.Text = strings.Join(texts, " ")
	return tr
}
