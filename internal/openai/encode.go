package openai

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"

	"github.com/izwi-speech/izwi/internal/audio"
)

// PCMRate is the rate of response_format=pcm: OpenAI's raw PCM is 24 kHz,
// 16-bit little-endian, mono, and clients play it assuming so.
const PCMRate = 24000

// flacBlock is the FLAC block size (samples per frame): the reference
// encoder's default.
const flacBlock = 4096

// encoder turns mono float32 chunks into one response format as they
// arrive. Nothing is written before the first Write, so a request that
// fails before any audio exists still gets a JSON error.
type encoder interface {
	Write(samples []float32) error
	// Close writes whatever is buffered; the stream is then complete.
	Close() error
}

var (
	_ encoder = (*wavEncoder)(nil)
	_ encoder = (*pcmEncoder)(nil)
	_ encoder = (*flacEncoder)(nil)
)

// speechFormat is one response_format of /v1/audio/speech.
type speechFormat struct {
	contentType string
	new         func(w io.Writer, rate int) (encoder, error)
}

// speechFormats are the formats Izwi can encode in pure Go. mp3, opus and
// aac have no well-kept pure-Go encoder and are refused.
func speechFormats() map[string]speechFormat {
	return map[string]speechFormat{
		"wav":  {"audio/wav", func(w io.Writer, rate int) (encoder, error) { return &wavEncoder{w: w, rate: rate}, nil }},
		"pcm":  {"audio/pcm", newPCMEncoder},
		"flac": {"audio/flac", func(w io.Writer, rate int) (encoder, error) { return &flacEncoder{w: w, rate: rate}, nil }},
	}
}

// wavEncoder streams a PCM16 WAV whose RIFF and data sizes are 0xFFFFFFFF
// ("until the end of the stream"), as OpenAI's streamed WAV does: the
// length is not known when the header leaves.
type wavEncoder struct {
	w      io.Writer
	rate   int
	headed bool
}

func (e *wavEncoder) Write(samples []float32) error {
	if !e.headed {
		e.headed = true
		h := make([]byte, 44)
		le := binary.LittleEndian
		copy(h[0:], "RIFF")
		le.PutUint32(h[4:], math.MaxUint32)
		copy(h[8:], "WAVEfmt ")
		le.PutUint32(h[16:], 16)
		le.PutUint16(h[20:], 1) // PCM
		le.PutUint16(h[22:], 1)
		le.PutUint32(h[24:], uint32(e.rate))
		le.PutUint32(h[28:], uint32(e.rate*2))
		le.PutUint16(h[32:], 2)
		le.PutUint16(h[34:], 16)
		copy(h[36:], "data")
		le.PutUint32(h[40:], math.MaxUint32)
		if _, err := e.w.Write(h); err != nil {
			return fmt.Errorf("openai: wav: %w", err)
		}
	}
	if _, err := e.w.Write(audio.EncodePCM16(samples)); err != nil {
		return fmt.Errorf("openai: wav: %w", err)
	}
	return nil
}

func (e *wavEncoder) Close() error { return nil }

// pcmEncoder resamples to PCMRate and writes raw PCM16 LE.
type pcmEncoder struct {
	w  io.Writer
	rs *audio.Resampler
}

func newPCMEncoder(w io.Writer, rate int) (encoder, error) {
	rs, err := audio.NewResampler(rate, PCMRate)
	if err != nil {
		return nil, fmt.Errorf("openai: pcm: %w", err)
	}
	return &pcmEncoder{w: w, rs: rs}, nil
}

func (e *pcmEncoder) write(s []float32) error {
	if len(s) == 0 {
		return nil
	}
	if _, err := e.w.Write(audio.EncodePCM16(s)); err != nil {
		return fmt.Errorf("openai: pcm: %w", err)
	}
	return nil
}

func (e *pcmEncoder) Write(samples []float32) error { return e.write(e.rs.Process(samples)) }
func (e *pcmEncoder) Close() error                  { return e.write(e.rs.Flush()) }

// flacEncoder streams 16-bit mono FLAC with github.com/mewkiz/flac's
// encoder (prediction analysis picks constant, fixed or verbatim
// subframes). STREAMINFO leaves the total length and MD5 unset (0: unknown,
// which the format allows) because they are not known when it leaves.
type flacEncoder struct {
	w    io.Writer
	rate int
	enc  *flac.Encoder
	buf  []int32
}

// noClose keeps the FLAC encoder from closing or seeking the response.
type noClose struct{ w io.Writer }

func (n noClose) Write(p []byte) (int, error) { return n.w.Write(p) }

func (e *flacEncoder) Write(samples []float32) error {
	if e.enc == nil {
		enc, err := flac.NewEncoder(noClose{e.w}, &meta.StreamInfo{BlockSizeMin: flacBlock, BlockSizeMax: flacBlock,
			SampleRate: uint32(e.rate), NChannels: 1, BitsPerSample: 16})
		if err != nil {
			return fmt.Errorf("openai: flac: %w", err)
		}
		e.enc = enc
	}
	pcm := audio.EncodePCM16(samples)
	for i := 0; i+1 < len(pcm); i += 2 {
		e.buf = append(e.buf, int32(int16(binary.LittleEndian.Uint16(pcm[i:]))))
		if len(e.buf) == flacBlock {
			if err := e.frame(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *flacEncoder) frame() error {
	n := len(e.buf)
	f := &frame.Frame{
		Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(n), SampleRate: uint32(e.rate),
			Channels: frame.ChannelsMono, BitsPerSample: 16},
		Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: e.buf, NSamples: n}},
	}
	if err := e.enc.WriteFrame(f); err != nil {
		return fmt.Errorf("openai: flac: %w", err)
	}
	e.buf = make([]int32, 0, flacBlock)
	return nil
}

func (e *flacEncoder) Close() error {
	if e.enc == nil || len(e.buf) == 0 {
		return nil
	}
	return e.frame()
}
