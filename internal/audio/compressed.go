package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/audio/ffmpeg"
)

// compressedMaxRate bounds the output of a compressed stream when the
// caller set no MaxSamples: Opus always decodes at 48 kHz, and AAC from
// phones and browsers is at most that.
const compressedMaxRate = 48000

// compressed are the containers ffmpeg decodes, by Sniff's name: the
// demuxer it may use, the codec marker the file must carry (checked here
// first, so a container of an unsupported codec is a 415 that names it,
// not an ffmpeg failure) and the Clip's Format.
var compressed = map[string]struct {
	demuxer ffmpeg.Demuxer
	marker  string // bytes the codec's header holds; "" checks nothing
	format  string
	codec   string
}{
	"ogg":  {ffmpeg.Ogg, "OpusHead", "ogg/opus", "Opus"},
	"webm": {ffmpeg.WebM, "A_OPUS", "webm/opus", "Opus"},
	"mp4":  {ffmpeg.MP4, "mp4a", "mp4/aac", "AAC"},
	"aac":  {ffmpeg.ADTS, "", "aac/adts", "AAC"},
}

// isADTS reports whether b starts with an ADTS (raw AAC) frame header: a
// 12-bit sync, layer 0, a valid sampling index and a frame length of at
// least its own header.
func isADTS(b []byte) bool {
	if len(b) < 7 || b[0] != 0xFF || b[1]&0xF6 != 0xF0 {
		return false
	}
	rate := (b[2] >> 2) & 0xF
	length := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	return rate < 13 && length >= 7
}

// compressedCPU is the CPU time ffmpeg may spend on a file: decoding runs
// at hundreds of times real time, so a 20th of the longest allowed audio
// (and 10 s for start-up) stops only a run that has gone wrong.
func compressedCPU(lim Limits) time.Duration {
	return 10*time.Second + lim.MaxDuration/20
}

// decodeCompressed has ffmpeg decode a compressed container into a
// streamed float WAV, bounded by lim before the first byte is decoded,
// and parses that with the WAV decoder (which applies lim exactly).
func decodeCompressed(ctx context.Context, kind string, b []byte, lim Limits) (Clip, error) {
	c := compressed[kind]
	if ctx == nil {
		return Clip{}, fmt.Errorf("audio: %s is decoded only where a request can bound the decoder (DecodeContext): %w", c.format, ErrUnsupported)
	}
	// Tracks and codec headers come first in Ogg and WebM; an MP4's index
	// may come last, so the whole file is searched for its sample entry.
	scan := b
	if kind != "mp4" {
		scan = b[:min(len(b), 1<<20)]
	}
	if c.marker != "" && !bytes.Contains(scan, []byte(c.marker)) {
		return Clip{}, fmt.Errorf("audio: %s container without %s audio (Izwi decodes %s in it): %w", kind, c.codec, c.codec, ErrUnsupported)
	}
	maxSamples := lim.MaxSamples
	if maxSamples <= 0 {
		maxSamples = int64(lim.MaxDuration.Seconds() * compressedMaxRate * 2)
	}
	out, err := ffmpeg.Decode(ctx, b, c.demuxer, 4*maxSamples+1<<16, ffmpeg.Limits{CPU: compressedCPU(lim)})
	switch {
	case errors.Is(err, ffmpeg.ErrTooLarge):
		return Clip{}, fmt.Errorf("audio: %s: decoded audio exceeds the limit of %d samples: %w", c.format, maxSamples, ErrTooLarge)
	case errors.Is(err, ffmpeg.ErrMissing):
		return Clip{}, fmt.Errorf("audio: %s: this server cannot decode it (%v): %w", c.format, err, ErrUnsupported)
	case errors.Is(err, ffmpeg.ErrFailed):
		return Clip{}, fmt.Errorf("audio: %s: %v: %w", c.format, err, ErrCorrupt)
	case err != nil:
		return Clip{}, fmt.Errorf("audio: %s: %w", c.format, err)
	}
	clip, err := decodeWAV(out, lim)
	if err != nil {
		if errors.Is(err, ErrEmpty) {
			return Clip{}, fmt.Errorf("audio: %s: the stream holds no audio: %w", c.format, ErrEmpty)
		}
		return Clip{}, err
	}
	clip.Format = c.format
	return clip, nil
}
