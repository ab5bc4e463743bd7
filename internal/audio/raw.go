package audio

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Raw encodings, named as Deepgram's live API names them.
const (
	EncLinear16 = "linear16" // signed 16-bit little-endian
	EncLinear32 = "linear32" // signed 32-bit little-endian
	EncFloat32  = "float32"  // IEEE float little-endian
	EncMuLaw    = "mulaw"    // G.711 μ-law
	EncALaw     = "alaw"     // G.711 A-law
)

// Live stream bounds enforced by ParseRawFormat.
const (
	MinLiveRate     = 8000
	MaxLiveRate     = 48000
	MaxLiveChannels = 2
)

// RawFormat describes headerless audio.
type RawFormat struct {
	Encoding   string
	SampleRate int
	Channels   int
}

// sampleSize returns bytes per sample, or 0 for an unknown encoding.
func (f RawFormat) sampleSize() int {
	switch f.Encoding {
	case EncLinear16:
		return 2
	case EncLinear32, EncFloat32:
		return 4
	case EncMuLaw, EncALaw:
		return 1
	}
	return 0
}

// FrameSize returns the bytes of one sample frame (all channels), or 0 when
// the format is invalid. Streaming callers cut incoming chunks at a multiple
// of it and carry the remainder to the next chunk.
func (f RawFormat) FrameSize() int {
	if f.Channels <= 0 {
		return 0
	}
	return f.sampleSize() * f.Channels
}

// ParseRawFormat validates a live stream's declared format: a known
// encoding, 8000–48000 Hz and 1–2 channels. Errors wrap ErrUnsupported.
func ParseRawFormat(encoding string, sampleRate, channels int) (RawFormat, error) {
	f := RawFormat{Encoding: encoding, SampleRate: sampleRate, Channels: channels}
	switch {
	case f.sampleSize() == 0:
		return RawFormat{}, fmt.Errorf("audio: raw: unknown encoding %q (want linear16, linear32, float32, mulaw or alaw): %w", encoding, ErrUnsupported)
	case sampleRate < MinLiveRate || sampleRate > MaxLiveRate:
		return RawFormat{}, fmt.Errorf("audio: raw: sample rate %d Hz outside %d–%d: %w", sampleRate, MinLiveRate, MaxLiveRate, ErrUnsupported)
	case channels < 1 || channels > MaxLiveChannels:
		return RawFormat{}, fmt.Errorf("audio: raw: %d channels, want 1–%d: %w", channels, MaxLiveChannels, ErrUnsupported)
	}
	return f, nil
}

// DecodeRaw decodes headerless samples in format f. b must hold whole frames
// (see FrameSize); a partial frame is ErrCorrupt and no bytes is ErrEmpty.
// DecodeRaw accepts the file bounds (1–384 kHz, up to 32 channels); live
// callers validate with ParseRawFormat first.
func DecodeRaw(b []byte, f RawFormat) (Clip, error) {
	fs := f.FrameSize()
	switch {
	case f.sampleSize() == 0:
		return Clip{}, fmt.Errorf("audio: raw: unknown encoding %q: %w", f.Encoding, ErrUnsupported)
	case f.SampleRate < MinSampleRate || f.SampleRate > MaxSampleRate:
		return Clip{}, fmt.Errorf("audio: raw: sample rate %d Hz outside %d–%d: %w", f.SampleRate, MinSampleRate, MaxSampleRate, ErrUnsupported)
	case f.Channels < 1 || f.Channels > MaxChannels:
		return Clip{}, fmt.Errorf("audio: raw: %d channels, want 1–%d: %w", f.Channels, MaxChannels, ErrUnsupported)
	case len(b) == 0:
		return Clip{}, fmt.Errorf("audio: raw: no bytes: %w", ErrEmpty)
	case len(b)%fs != 0:
		return Clip{}, fmt.Errorf("audio: raw: %d bytes is not a whole number of %d-byte frames: %w", len(b), fs, ErrCorrupt)
	}
	out := make([]float32, len(b)/f.sampleSize())
	le := binary.LittleEndian
	switch f.Encoding {
	case EncLinear16:
		for i := range out {
			out[i] = float32(int16(le.Uint16(b[2*i:]))) / (1 << 15)
		}
	case EncLinear32:
		for i := range out {
			out[i] = float32(float64(int32(le.Uint32(b[4*i:]))) / (1 << 31))
		}
	case EncFloat32:
		for i := range out {
			out[i] = sanitize(float64(math.Float32frombits(le.Uint32(b[4*i:]))))
		}
	case EncMuLaw, EncALaw:
		t := g711Table(f.Encoding == EncALaw)
		for i := range out {
			out[i] = t[b[i]]
		}
	}
	return Clip{SampleRate: f.SampleRate, Channels: f.Channels, Samples: out, Format: "raw/" + f.Encoding}, nil
}
