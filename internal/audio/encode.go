package audio

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// pcm16 converts one sample with the same scale Decode uses (x·32768), so
// PCM16 audio survives decode → encode unchanged; it rounds half away from
// zero without dither, clamps to the int16 range and maps NaN to 0.
func pcm16(x float32) int16 {
	if x != x {
		return 0
	}
	v := math.Round(float64(x) * (1 << 15))
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// EncodePCM16 returns samples as signed 16-bit little-endian bytes
// (Deepgram's "linear16").
func EncodePCM16(samples []float32) []byte {
	out := make([]byte, 2*len(samples))
	for i, s := range samples {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(pcm16(s)))
	}
	return out
}

// EncodeWAV writes interleaved samples as a canonical 44-byte-header PCM16
// WAV file.
func EncodeWAV(w io.Writer, samples []float32, rate, channels int) error {
	switch {
	case rate < MinSampleRate || rate > MaxSampleRate:
		return fmt.Errorf("audio: encode wav: sample rate %d Hz outside %d–%d: %w", rate, MinSampleRate, MaxSampleRate, ErrUnsupported)
	case channels < 1 || channels > MaxChannels:
		return fmt.Errorf("audio: encode wav: %d channels, want 1–%d: %w", channels, MaxChannels, ErrUnsupported)
	case len(samples)%channels != 0:
		return fmt.Errorf("audio: encode wav: %d samples do not split into %d channels: %w", len(samples), channels, ErrCorrupt)
	case 2*int64(len(samples)) > math.MaxUint32-36:
		return fmt.Errorf("audio: encode wav: %d samples exceed the 4 GiB RIFF limit: %w", len(samples), ErrTooLarge)
	}
	dataLen := uint32(2 * len(samples))
	h := make([]byte, 44)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], 36+dataLen)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], tagPCM)
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*2))
	le.PutUint16(h[32:], uint16(channels*2))
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], dataLen)
	if _, err := w.Write(h); err != nil {
		return fmt.Errorf("audio: encode wav: %w", err)
	}
	if _, err := w.Write(EncodePCM16(samples)); err != nil {
		return fmt.Errorf("audio: encode wav: %w", err)
	}
	return nil
}
