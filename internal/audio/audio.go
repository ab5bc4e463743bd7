// Package audio owns Izwi's audio layer: decoding (WAV/RF64, FLAC, MP3 and
// raw PCM/G.711 as Deepgram names it in pure Go; Opus in Ogg and WebM and
// AAC in MP4/M4A/ADTS through Debian's ffmpeg in a sandbox, see
// internal/audio/ffmpeg), band-limited resampling, level analysis and the
// encoders of the speech routes (WAV, PCM, FLAC; MP3, Opus and AAC through
// ffmpeg). It uses no cgo and holds no package-level state. Engines, the CLI and the API import it to turn whatever a client
// sends into the mono float32 samples the speech interfaces take.
//
// Every decoder treats its input as hostile: sizes claimed by headers are
// never trusted for allocation (memory is allocated from the bytes actually
// present), and failures are reported with the sentinels ErrUnsupported,
// ErrCorrupt, ErrTooLarge and ErrEmpty so the HTTP layer can map them to
// 415, 400, 413 and 400.
package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Sentinel errors; decoders wrap them with %w and a description of what was
// wrong, e.g. "audio: wav: fmt chunk of 12 bytes, want ≥ 16: corrupt".
var (
	// ErrUnsupported means a valid container holding a format Izwi does not
	// decode (MP3-in-WAV, ADPCM, 12 channels...). HTTP 415.
	ErrUnsupported = errors.New("unsupported")
	// ErrCorrupt means the bytes are not a well-formed file of any format we
	// know. HTTP 400.
	ErrCorrupt = errors.New("corrupt")
	// ErrTooLarge means the input exceeds Limits. HTTP 413.
	ErrTooLarge = errors.New("too large")
	// ErrEmpty means a well-formed file with no samples. HTTP 400.
	ErrEmpty = errors.New("no audio samples")
)

// Defaults applied when a Limits field is zero.
const (
	DefaultMaxBytes    int64         = 2 << 30 // 2 GiB
	DefaultMaxDuration time.Duration = 4 * time.Hour
)

// Rate and channel bounds for decoded files. Live streams are narrower, see
// ParseRawFormat.
const (
	MinSampleRate = 1000
	MaxSampleRate = 384000
	MaxChannels   = 32
)

// Limits bound what Decode accepts. Zero fields take the defaults above.
type Limits struct {
	MaxBytes    int64
	MaxDuration time.Duration
	// MaxSamples caps the decoded samples (frames × channels), and so the
	// memory a decode holds (4 bytes each): MaxDuration alone lets a
	// small, highly compressed file at a high rate and many channels
	// expand to gigabytes. 0 means no cap beyond the others.
	MaxSamples int64
}

// UploadLimits are the limits of an uploaded file to be transcribed:
// maxBytes of file, maxDuration of audio, and no more decoded samples than
// maxDuration of 48 kHz mono holds (4 bytes each: 30 min is 345 MB), so
// a file with more channels or a higher rate gets proportionally less
// time instead of proportionally more memory.
func UploadLimits(maxBytes int64, maxDuration time.Duration) Limits {
	return Limits{MaxBytes: maxBytes, MaxDuration: maxDuration, MaxSamples: int64(maxDuration.Seconds() * 48000)}
}

// CapDuration lowers MaxDuration to left when left is less (an upload
// bounded by the caller's audio left today), keeping the samples bound,
// and says whether it did: a decode that then fails with ErrTooLarge was
// refused by the quota, not by the upload limits.
func (l Limits) CapDuration(left time.Duration) (Limits, bool) {
	if left >= l.withDefaults().MaxDuration {
		return l, false
	}
	l.MaxDuration = max(left, time.Millisecond)
	return l, true
}

// checkSamples reports ErrTooLarge when n decoded samples exceed
// MaxSamples. Decoders call it before allocating or appending them.
func (l Limits) checkSamples(n int64) error {
	if l.MaxSamples > 0 && n > l.MaxSamples {
		return fmt.Errorf("audio: %d decoded samples exceed the limit of %d: %w", n, l.MaxSamples, ErrTooLarge)
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	return l
}

// checkFrames reports ErrTooLarge when frames at rate exceed MaxDuration.
// It runs before samples are allocated.
func (l Limits) checkFrames(frames int64, rate int) error {
	if rate <= 0 {
		return nil
	}
	// Compare in frames to avoid Duration overflow on huge counts.
	maxFrames := int64(l.MaxDuration.Seconds() * float64(rate))
	if frames > maxFrames {
		return fmt.Errorf("audio: %d frames at %d Hz exceed the %s limit: %w", frames, rate, l.MaxDuration, ErrTooLarge)
	}
	return nil
}

// Clip is decoded audio: interleaved float32 samples in [-1, 1].
type Clip struct {
	SampleRate int
	Channels   int
	Samples    []float32 // interleaved, len = Frames()*Channels
	Format     string    // e.g. "wav/pcm16", "wav/float32", "flac/24", "raw/linear16"
}

// Frames returns the number of sample frames (samples per channel).
func (c Clip) Frames() int {
	if c.Channels <= 0 {
		return 0
	}
	return len(c.Samples) / c.Channels
}

// Duration returns the clip's length.
func (c Clip) Duration() time.Duration {
	if c.SampleRate <= 0 {
		return 0
	}
	return time.Duration(int64(c.Frames()) * int64(time.Second) / int64(c.SampleRate))
}

// Mono averages the channels into one. It returns Samples itself (not a copy)
// when the clip is already mono.
func (c Clip) Mono() []float32 {
	if c.Channels <= 1 {
		return c.Samples
	}
	n := c.Frames()
	out := make([]float32, n)
	inv := 1 / float32(c.Channels)
	for i := range n {
		var sum float32
		for _, s := range c.Samples[i*c.Channels : (i+1)*c.Channels] {
			sum += s
		}
		out[i] = sum * inv
	}
	return out
}

// Decode reads a whole WAV (RIFF, RF64/BW64, WAVE_FORMAT_EXTENSIBLE), FLAC
// or MP3 file from r, recognised by its magic bytes rather than any name or
// MIME type the client claimed: the formats Izwi parses in process. Every
// uploaded file goes through DecodeContext, which adds the compressed
// containers phones record.
func Decode(r io.Reader, lim Limits) (Clip, error) {
	return decodeReader(nil, r, lim)
}

// DecodeContext is Decode for every format Izwi accepts: WAV, FLAC, MP3,
// Ogg/Opus, WebM/Opus, MP4/M4A AAC and ADTS AAC. The compressed containers
// are decoded by ffmpeg in its sandbox (internal/audio/ffmpeg), which ctx
// ends.
func DecodeContext(ctx context.Context, r io.Reader, lim Limits) (Clip, error) {
	return decodeReader(ctx, r, lim)
}

// decodeReader reads and decodes r; a nil ctx (Decode) refuses the
// formats only a subprocess decodes.
func decodeReader(ctx context.Context, r io.Reader, lim Limits) (Clip, error) {
	lim = lim.withDefaults()
	// Read at most MaxBytes+1 so an oversize body is detected without
	// buffering more than the limit.
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return Clip{}, fmt.Errorf("audio: reading input: %w", err)
	}
	if int64(len(b)) > lim.MaxBytes {
		return Clip{}, fmt.Errorf("audio: input exceeds %d bytes: %w", lim.MaxBytes, ErrTooLarge)
	}
	return decodeBytes(ctx, b, lim)
}

// DecodeFile decodes the file at path; see Decode.
func DecodeFile(path string, lim Limits) (Clip, error) {
	return decodeFile(nil, path, lim)
}

// DecodeFileContext decodes the file at path; see DecodeContext.
func DecodeFileContext(ctx context.Context, path string, lim Limits) (Clip, error) {
	return decodeFile(ctx, path, lim)
}

func decodeFile(ctx context.Context, path string, lim Limits) (Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return Clip{}, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	return decodeReader(ctx, f, lim)
}

// Sniff names the container that head (the first bytes of a file; 12 are
// enough) starts with, by magic bytes: "wav" (RIFF, RF64 or BW64 WAVE),
// "flac", "mp3" (an ID3v2 tag or an MPEG layer III frame header), "ogg",
// "webm" (any EBML/Matroska file), "mp4" (an ISO BMFF ftyp box: MP4, M4A,
// 3GP), "aac" (an ADTS frame header), or "" when none. The API uses it to check a claimed content type before
// reading a whole upload.
func Sniff(head []byte) string {
	switch {
	case len(head) >= 12 && (bytes.HasPrefix(head, []byte("RIFF")) || bytes.HasPrefix(head, []byte("RF64")) ||
		bytes.HasPrefix(head, []byte("BW64"))) && string(head[8:12]) == "WAVE":
		return "wav"
	case bytes.HasPrefix(head, []byte("fLaC")):
		return "flac"
	case isMP3(head):
		return "mp3"
	case bytes.HasPrefix(head, []byte("OggS")):
		return "ogg"
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return "webm"
	case len(head) >= 8 && string(head[4:8]) == "ftyp":
		return "mp4"
	case isADTS(head):
		return "aac"
	}
	return ""
}

func decodeBytes(ctx context.Context, b []byte, lim Limits) (Clip, error) {
	switch kind := Sniff(b); kind {
	case "ogg", "webm", "mp4", "aac":
		return decodeCompressed(ctx, kind, b, lim)
	case "wav":
		return decodeWAV(b, lim)
	case "flac":
		return decodeFLAC(b, lim)
	case "mp3":
		// FLAC may carry an ID3v2 prefix too; the tag is skipped for it.
		n := id3Size(b)
		switch {
		case n > 0 && n < len(b) && bytes.HasPrefix(b[n:], []byte("fLaC")):
			return decodeFLAC(b[n:], lim)
		case n >= len(b):
			return Clip{}, fmt.Errorf("audio: ID3 tag with no MP3 or FLAC audio after it: %w", ErrUnsupported)
		}
		return decodeMP3(b, lim)
	}
	switch {
	case len(b) == 0:
		return Clip{}, fmt.Errorf("audio: empty input: %w", ErrEmpty)
	case len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")):
		return Clip{}, fmt.Errorf("audio: RIFF form %q is not WAVE: %w", b[8:12], ErrUnsupported)
	}
	return Clip{}, fmt.Errorf("audio: unrecognised format (want WAV, FLAC, MP3, Ogg/Opus, WebM/Opus or M4A/AAC): %w", ErrCorrupt)
}

// sanitize maps NaN to 0 and clamps to [-1, 1]: float sources may carry
// either, and every consumer relies on the Clip contract.
func sanitize(x float64) float32 {
	switch {
	case x != x:
		return 0
	case x > 1:
		return 1
	case x < -1:
		return -1
	}
	return float32(x)
}
