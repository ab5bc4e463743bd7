package audio

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"

	"github.com/izwi-speech/izwi/internal/audio/ffmpeg"
)

// Sink receives an encoder's bytes: Flush hands what was written to the
// client (an HTTP response's flush, a WebSocket message).
type Sink interface {
	io.Writer
	Flush() error
}

// HTTPSink is the Sink of an HTTP response: Flush sends what was written
// to the client.
func HTTPSink(w http.ResponseWriter) Sink { return httpSink{w, http.NewResponseController(w)} }

type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s httpSink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s httpSink) Flush() error                { return s.rc.Flush() }

// StreamEncoder turns mono float32 chunks into one format as they arrive.
//
// Contract: nothing reaches the Sink before the first Write, so a request
// that fails before any audio exists can still answer with an error; each
// Write's output is flushed once it exists (compressed formats lag by the
// codec's frame); Close writes the rest and returns once the stream is
// complete; Abort stops at once, and the Sink is not used after either
// returns. The Sink is never used from two goroutines at once.
type StreamEncoder interface {
	Write(samples []float32) error
	Close() error
	Abort()
}

var (
	_ StreamEncoder = (*wavStream)(nil)
	_ StreamEncoder = (*pcmStream)(nil)
	_ StreamEncoder = (*flacStream)(nil)
	_ StreamEncoder = (*ffmpegStream)(nil)
)

// StreamFormat names one encoding a speech route can answer in.
type StreamFormat struct {
	Name        string // "wav", "pcm", "flac", "mp3", "opus", "aac"
	ContentType string
}

// StreamFormats are the encodings NewStreamEncoder makes: WAV, raw PCM16
// and FLAC in Go; MP3, Opus (in Ogg) and AAC (in ADTS) through ffmpeg.
var StreamFormats = []StreamFormat{
	{"mp3", "audio/mpeg"}, {"opus", "audio/ogg"}, {"aac", "audio/aac"},
	{"flac", "audio/flac"}, {"wav", "audio/wav"}, {"pcm", "audio/pcm"},
}

// LookupStreamFormat finds a StreamFormat by name.
func LookupStreamFormat(name string) (StreamFormat, bool) {
	i := slices.IndexFunc(StreamFormats, func(f StreamFormat) bool { return f.Name == name })
	if i < 0 {
		return StreamFormat{}, false
	}
	return StreamFormats[i], true
}

// flacBlock is the FLAC block size (samples per frame): the reference
// encoder's default.
const flacBlock = 4096

// NewStreamEncoder encodes rate-Hz mono audio as format (one of
// StreamFormats, or G.711 for telephony: "mulaw" and "alaw" raw,
// "mulaw-wav" and "alaw-wav" in a streamed WAV) into sink,
// resampled to outRate first when outRate is set and differs (PCM for
// OpenAI is 24 kHz whatever the voice's rate). The compressed formats
// run ffmpeg in its sandbox until ctx ends.
func NewStreamEncoder(ctx context.Context, sink Sink, format string, rate, outRate int) (StreamEncoder, error) {
	if outRate <= 0 {
		outRate = rate
	}
	if rate < MinSampleRate || rate > MaxSampleRate || outRate < MinSampleRate || outRate > MaxSampleRate {
		return nil, fmt.Errorf("audio: encode: sample rates %d→%d Hz outside %d–%d: %w", rate, outRate, MinSampleRate, MaxSampleRate, ErrUnsupported)
	}
	var rs *Resampler
	if outRate != rate {
		var err error
		if rs, err = NewResampler(rate, outRate); err != nil {
			return nil, fmt.Errorf("audio: encode: %w", err)
		}
	}
	r := resampling{rs: rs}
	switch format {
	case "wav":
		return &wavStream{resampling: r, sink: sink, rate: outRate}, nil
	case "pcm":
		return &pcmStream{resampling: r, sink: sink}, nil
	case "flac":
		return &flacStream{resampling: r, sink: sink, rate: outRate}, nil
	case "mp3", "opus", "aac", "mulaw", "alaw", "mulaw-wav", "alaw-wav":
		enc := map[string]ffmpeg.Encoding{"mp3": ffmpeg.MP3, "opus": ffmpeg.Opus, "aac": ffmpeg.AAC, "mulaw": ffmpeg.MuLaw,
			"alaw": ffmpeg.ALaw, "mulaw-wav": ffmpeg.MuLawWAV, "alaw-wav": ffmpeg.ALawWAV}[format]
		return &ffmpegStream{resampling: r, ctx: ctx, sink: sink, rate: outRate, enc: enc}, nil
	}
	return nil, fmt.Errorf("audio: encode: format %q: %w", format, ErrUnsupported)
}

// resampling converts to the output rate when one was asked for.
type resampling struct{ rs *Resampler }

func (r resampling) in(s []float32) []float32 {
	if r.rs == nil {
		return s
	}
	return r.rs.Process(s)
}

func (r resampling) rest() []float32 {
	if r.rs == nil {
		return nil
	}
	return r.rs.Flush()
}

func put(sink Sink, b []byte, what string) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := sink.Write(b); err != nil {
		return fmt.Errorf("audio: encode %s: %w", what, err)
	}
	if err := sink.Flush(); err != nil {
		return fmt.Errorf("audio: encode %s: %w", what, err)
	}
	return nil
}

// wavStream streams a PCM16 WAV whose RIFF and data sizes are 0xFFFFFFFF
// ("until the end of the stream"), as OpenAI's streamed WAV does: the
// length is not known when the header leaves.
type wavStream struct {
	resampling
	sink   Sink
	rate   int
	headed bool
}

func (e *wavStream) Write(samples []float32) error {
	var b []byte
	if !e.headed {
		e.headed = true
		b = streamedWAVHeader(e.rate)
	}
	return put(e.sink, append(b, EncodePCM16(e.in(samples))...), "wav")
}

func (e *wavStream) Close() error { return put(e.sink, EncodePCM16(e.rest()), "wav") }
func (e *wavStream) Abort()       {}

func streamedWAVHeader(rate int) []byte {
	h := make([]byte, 44)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], math.MaxUint32)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], tagPCM)
	le.PutUint16(h[22:], 1)
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*2))
	le.PutUint16(h[32:], 2)
	le.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	le.PutUint32(h[40:], math.MaxUint32)
	return h
}

// pcmStream writes raw PCM16 LE.
type pcmStream struct {
	resampling
	sink Sink
}

func (e *pcmStream) Write(samples []float32) error {
	return put(e.sink, EncodePCM16(e.in(samples)), "pcm")
}
func (e *pcmStream) Close() error { return put(e.sink, EncodePCM16(e.rest()), "pcm") }
func (e *pcmStream) Abort()       {}

// flacStream streams 16-bit mono FLAC with github.com/mewkiz/flac's
// encoder. STREAMINFO leaves the total length and MD5 unset (0: unknown,
// which the format allows) because they are not known when it leaves.
type flacStream struct {
	resampling
	sink Sink
	rate int
	enc  *flac.Encoder
	buf  []int32
}

// noClose keeps the FLAC encoder from closing or seeking the sink, and
// flushes once per frame.
type noClose struct{ s Sink }

func (n noClose) Write(p []byte) (int, error) { return n.s.Write(p) }

func (e *flacStream) Write(samples []float32) error {
	if e.enc == nil {
		enc, err := flac.NewEncoder(noClose{e.sink}, &meta.StreamInfo{BlockSizeMin: flacBlock, BlockSizeMax: flacBlock,
			SampleRate: uint32(e.rate), NChannels: 1, BitsPerSample: 16})
		if err != nil {
			return fmt.Errorf("audio: encode flac: %w", err)
		}
		e.enc = enc
		if err := e.sink.Flush(); err != nil { // the stream header: the response has begun
			return fmt.Errorf("audio: encode flac: %w", err)
		}
	}
	return e.add(e.in(samples))
}

func (e *flacStream) add(samples []float32) error {
	for _, s := range samples {
		e.buf = append(e.buf, int32(pcm16(s)))
		if len(e.buf) == flacBlock {
			if err := e.frame(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *flacStream) frame() error {
	n := len(e.buf)
	f := &frame.Frame{
		Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(n), SampleRate: uint32(e.rate),
			Channels: frame.ChannelsMono, BitsPerSample: 16},
		Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: e.buf, NSamples: n}},
	}
	if err := e.enc.WriteFrame(f); err != nil {
		return fmt.Errorf("audio: encode flac: %w", err)
	}
	e.buf = make([]int32, 0, flacBlock)
	if err := e.sink.Flush(); err != nil {
		return fmt.Errorf("audio: encode flac: %w", err)
	}
	return nil
}

func (e *flacStream) Close() error {
	if e.enc == nil {
		return nil
	}
	if err := e.add(e.rest()); err != nil {
		return err
	}
	if len(e.buf) == 0 {
		return nil
	}
	return e.frame()
}
func (e *flacStream) Abort() {}

// ffmpegStream feeds PCM16 to the sandboxed ffmpeg, started at the first
// Write (so nothing reaches the sink before), and hands what it makes to
// the sink from ffmpeg's copying goroutine, flushing each piece.
type ffmpegStream struct {
	resampling
	ctx  context.Context
	sink Sink
	rate int
	enc  ffmpeg.Encoding
	ff   *ffmpeg.Encoder
}

// flushing writes and flushes each piece ffmpeg makes; only the
// Encoder's goroutine uses it.
type flushing struct{ s Sink }

func (f flushing) Write(p []byte) (int, error) {
	n, err := f.s.Write(p)
	if err == nil {
		err = f.s.Flush()
	}
	return n, err
}

func (e *ffmpegStream) Write(samples []float32) error {
	if e.ff == nil {
		ff, err := ffmpeg.NewEncoder(e.ctx, flushing{e.sink}, e.rate, e.enc, ffmpeg.Limits{})
		if err != nil {
			return fmt.Errorf("audio: encode %s: %w", e.enc.Name, err)
		}
		e.ff = ff
	}
	return e.push(e.in(samples))
}

func (e *ffmpegStream) push(s []float32) error {
	if len(s) == 0 {
		return nil
	}
	if err := e.ff.Write(EncodePCM16(s)); err != nil {
		return fmt.Errorf("audio: encode %s: %w", e.enc.Name, err)
	}
	return nil
}

func (e *ffmpegStream) Close() error {
	if e.ff == nil {
		return nil
	}
	if err := e.push(e.rest()); err != nil {
		e.ff.Abort()
		return err
	}
	if err := e.ff.Close(); err != nil {
		return fmt.Errorf("audio: encode %s: %w", e.enc.Name, err)
	}
	return nil
}

func (e *ffmpegStream) Abort() {
	if e.ff != nil {
		e.ff.Abort()
	}
}
