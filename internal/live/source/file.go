package source

import (
	"context"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/live"
)

// File plays a recording into a session at real time: any format
// audio.Decode reads, mixed to mono and resampled to the ingest's rate,
// optionally looped (the demo source).
type File struct {
	Path string
	Loop bool
	// Speed plays faster (2 = twice real time); 0 means 1. Tests use it.
	Speed float64
	// Now and Sleep pace the playback; nil means the real clock.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Limits bound the decoded file; zero takes audio's defaults.
	Limits audio.Limits
}

// chunk is how much audio one Write carries.
const chunk = 100 * time.Millisecond

func (f *File) String() string {
	if f.Loop {
		return "file:" + f.Path + "?loop=1"
	}
	return "file:" + f.Path
}

func (f *File) run(ctx context.Context, ing live.Ingest) error {
	clip, err := audio.DecodeFileContext(ctx, f.Path, f.Limits)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	rate := ing.SampleRate()
	samples, err := audio.Prepare(clip, rate)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if len(samples) == 0 {
		return fmt.Errorf("source: %s holds no audio", f.Path)
	}
	if f.Loop {
		// A second of silence between passes, as a speaker pauses: the
		// recognizer ends the utterance, so each pass gets its finals.
		samples = append(samples, make([]float32, rate)...)
	}
	now, wait, speed := f.Now, f.Sleep, f.Speed
	if now == nil {
		now = time.Now
	}
	if wait == nil {
		wait = sleep
	}
	if speed <= 0 {
		speed = 1
	}
	step := int(chunk.Seconds() * float64(rate))
	start := now()
	var sent time.Duration // audio written so far
	for {
		for off := 0; off < len(samples); off += step {
			// Pace against the start, so rounding never accumulates.
			due := start.Add(time.Duration(float64(sent) / speed))
			if d := due.Sub(now()); d > 0 {
				if err := wait(ctx, d); err != nil {
					return nil
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			part := samples[off:min(off+step, len(samples))]
			if err := ing.Write(part); err != nil {
				return fmt.Errorf("source: %w", err)
			}
			sent += time.Duration(len(part)) * time.Second / time.Duration(rate)
		}
		if !f.Loop {
			return ing.Finalize()
		}
	}
}
