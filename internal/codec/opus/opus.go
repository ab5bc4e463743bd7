// Package opus owns Izwi's Opus decoding: a small cgo binding to Debian's
// libopus (libopus-dev), used for audio arriving over WebRTC. It is one of
// the few packages allowed cgo (internal/archtest); it knows nothing of
// WebRTC, sessions or HTTP.
package opus

/*
#cgo pkg-config: opus
#include <opus.h>
#include <stdlib.h>

static int izwi_opus_decode_float(OpusDecoder *d, const unsigned char *data, int len, float *pcm, int frames) {
	return opus_decode_float(d, data, len, pcm, frames, 0);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// MaxFrame is the most samples per channel one packet decodes to: 120 ms
// at 48 kHz, Opus's longest frame.
const MaxFrame = 5760

// ErrClosed is returned by Decode after Close.
var ErrClosed = errors.New("opus: decoder closed")

// Decoder decodes one Opus stream. It is used by one goroutine at a time.
type Decoder struct {
	d        *C.OpusDecoder
	rate     int
	channels int
	pcm      []float32 // MaxFrame × channels, reused
	last     int       // samples per channel of the last packet (what a lost one conceals)
}

// NewDecoder returns a decoder to rate (8000, 12000, 16000, 24000 or 48000
// Hz) and channels (1 or 2); libopus downmixes or upmixes as needed.
func NewDecoder(rate, channels int) (*Decoder, error) {
	var e C.int
	d := C.opus_decoder_create(C.opus_int32(rate), C.int(channels), &e)
	if e != C.OPUS_OK || d == nil {
		return nil, fmt.Errorf("opus: decoder for %d Hz × %d: %s", rate, channels, C.GoString(C.opus_strerror(e)))
	}
	return &Decoder{d: d, rate: rate, channels: channels, pcm: make([]float32, MaxFrame*channels)}, nil
}

// SampleRate is the rate Decode returns.
func (d *Decoder) SampleRate() int { return d.rate }

// Decode decodes one packet and returns its samples (interleaved when
// stereo), valid until the next call. An empty packet is a lost one:
// libopus conceals it. A corrupt packet is an error; the stream goes on.
func (d *Decoder) Decode(packet []byte) ([]float32, error) {
	if d.d == nil {
		return nil, ErrClosed
	}
	var data *C.uchar
	frames := MaxFrame
	if len(packet) > 0 {
		data = (*C.uchar)(unsafe.Pointer(&packet[0]))
	} else {
		frames = max(d.last, d.rate/50) // conceal as long as the last packet (20 ms before any)
	}
	n := C.izwi_opus_decode_float(d.d, data, C.int(len(packet)), (*C.float)(unsafe.Pointer(&d.pcm[0])), C.int(frames))
	runtime.KeepAlive(packet)
	if n < 0 {
		return nil, fmt.Errorf("opus: decoding a packet: %s", C.GoString(C.opus_strerror(n)))
	}
	d.last = int(n)
	return d.pcm[:int(n)*d.channels], nil
}

// Close frees the decoder; it is idempotent.
func (d *Decoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}

// Encoder encodes one Opus stream (VoIP mode). It is used by one
// goroutine at a time.
type Encoder struct {
	e        *C.OpusEncoder
	channels int
	out      []byte
}

// NewEncoder returns an encoder from rate (8000, 12000, 16000, 24000 or
// 48000 Hz) and channels (1 or 2).
func NewEncoder(rate, channels int) (*Encoder, error) {
	var e C.int
	enc := C.opus_encoder_create(C.opus_int32(rate), C.int(channels), C.OPUS_APPLICATION_VOIP, &e)
	if e != C.OPUS_OK || enc == nil {
		return nil, fmt.Errorf("opus: encoder for %d Hz × %d: %s", rate, channels, C.GoString(C.opus_strerror(e)))
	}
	return &Encoder{e: enc, channels: channels, out: make([]byte, 4000)}, nil
}

// Encode encodes one frame (2.5, 5, 10, 20, 40 or 60 ms of interleaved
// samples) and returns the packet, valid until the next call.
func (e *Encoder) Encode(pcm []float32) ([]byte, error) {
	if e.e == nil {
		return nil, ErrClosed
	}
	if len(pcm) == 0 || len(pcm)%e.channels != 0 {
		return nil, fmt.Errorf("opus: %d samples is not a whole frame of %d channels", len(pcm), e.channels)
	}
	n := C.opus_encode_float(e.e, (*C.float)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)/e.channels),
		(*C.uchar)(unsafe.Pointer(&e.out[0])), C.opus_int32(len(e.out)))
	runtime.KeepAlive(pcm)
	if n < 0 {
		return nil, fmt.Errorf("opus: encoding a frame: %s", C.GoString(C.opus_strerror(n)))
	}
	return e.out[:n], nil
}

// Close frees the encoder; it is idempotent.
func (e *Encoder) Close() {
	if e.e != nil {
		C.opus_encoder_destroy(e.e)
		e.e = nil
	}
}
