package audio

import "fmt"

// Converter turns a live stream of raw chunks (a WebSocket's binary
// messages, say) into mono samples at an engine's rate. Chunks may split
// sample frames anywhere: the partial frame is carried to the next chunk.
// The concatenated output of Convert and Flush equals Prepare applied to the
// whole stream decoded at once. A Converter is used by one goroutine at a
// time.
type Converter struct {
	f    RawFormat
	fs   int
	rest []byte // < fs bytes of a partial frame
	rs   *Resampler
}

// NewConverter returns a Converter from f to mono at rate Hz. It accepts the
// file bounds of DecodeRaw; validate live input with ParseRawFormat first.
func NewConverter(f RawFormat, rate int) (*Converter, error) {
	if f.sampleSize() == 0 || f.Channels < 1 || f.Channels > MaxChannels {
		return nil, fmt.Errorf("audio: converter: format %q × %d channels: %w", f.Encoding, f.Channels, ErrUnsupported)
	}
	rs, err := NewResampler(f.SampleRate, rate)
	if err != nil {
		return nil, fmt.Errorf("audio: converter: %w", err)
	}
	return &Converter{f: f, fs: f.FrameSize(), rs: rs}, nil
}

// Convert accepts the next chunk and returns the mono samples now ready.
func (c *Converter) Convert(chunk []byte) []float32 {
	if len(c.rest) > 0 {
		need := min(c.fs-len(c.rest), len(chunk))
		c.rest = append(c.rest, chunk[:need]...)
		chunk = chunk[need:]
		if len(c.rest) < c.fs {
			return nil
		}
	}
	whole := len(chunk) - len(chunk)%c.fs
	var mono []float32
	if len(c.rest) == c.fs {
		mono = append(mono, c.decode(c.rest)...)
		c.rest = c.rest[:0]
	}
	if whole > 0 {
		mono = append(mono, c.decode(chunk[:whole])...)
	}
	c.rest = append(c.rest, chunk[whole:]...)
	return c.rs.Process(mono)
}

// Flush returns the remaining samples, drops any partial frame, and resets
// the Converter for a new stream.
func (c *Converter) Flush() []float32 {
	c.rest = c.rest[:0]
	return c.rs.Flush()
}

// decode handles whole frames only, which the callers guarantee, so DecodeRaw
// cannot fail here.
func (c *Converter) decode(b []byte) []float32 {
	clip, err := DecodeRaw(b, RawFormat{Encoding: c.f.Encoding, SampleRate: c.f.SampleRate, Channels: c.f.Channels})
	if err != nil {
		return nil
	}
	return clip.Mono()
}
