package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// mp3MaxExpansion bounds decoded mono samples per input byte beyond the
// first mp3FreeSamples. The densest legal MP3 (8 kbit/s MPEG-2.5 at
// 8 kHz) makes about 8 samples per byte; a hostile stream of tiny
// frames must not be able to claim more memory than that.
const (
	mp3MaxExpansion = 64
	mp3FreeSamples  = 1 << 22
)

func mp3Err(kind error, format string, args ...any) error {
	return fmt.Errorf("audio: mp3: "+format+": %w", append(args, kind)...)
}

// isMP3 reports whether b starts like an MP3 file: an ID3v2 tag, or an
// MPEG audio layer III frame header (11-bit sync, a valid version, layer
// III, a bitrate index other than free/bad and a valid rate index).
func isMP3(b []byte) bool {
	if id3Size(b) > 0 {
		return true
	}
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return false
	}
	version, layer := (b[1]>>3)&3, (b[1]>>1)&3
	bitrate, rate := b[2]>>4, (b[2]>>2)&3
	return version != 1 && layer == 1 && bitrate != 0 && bitrate != 15 && rate != 3
}

// id3Size returns the length of an ID3v2 tag at the start of b (header,
// body and footer), or 0 if there is none or it is malformed.
func id3Size(b []byte) int {
	if len(b) < 10 || !bytes.HasPrefix(b, []byte("ID3")) {
		return 0
	}
	s := b[6:10]
	if (s[0]|s[1]|s[2]|s[3])&0x80 != 0 { // sizes are 7-bit "syncsafe"
		return 0
	}
	n := 10 + int(s[0])<<21 | int(s[1])<<14 | int(s[2])<<7 | int(s[3])
	if b[5]&0x10 != 0 { // footer present
		n += 10
	}
	return n
}

// hideSeek keeps go-mp3 from making a second pass over the input to
// measure its length: it would parse every frame header twice.
type hideSeek struct{ r io.Reader }

func (h hideSeek) Read(p []byte) (int, error) { return h.r.Read(p) }

// decodeMP3 decodes an MPEG-1/2/2.5 layer III stream with
// github.com/hajimehoshi/go-mp3 (pure Go, fuzzed upstream). go-mp3 always
// yields 16-bit stereo; the two channels are averaged here into one, since
// every consumer wants mono and a mono file arrives duplicated, so the
// Clip is mono whatever the file held. Output is bounded by
// Limits.MaxDuration and by samples per input byte, checked before each
// append, and any panic inside the decoder is reported as ErrCorrupt.
func decodeMP3(b []byte, lim Limits) (clip Clip, err error) {
	defer func() {
		if r := recover(); r != nil {
			clip, err = Clip{}, mp3Err(ErrCorrupt, "decoder panic: %v", r)
		}
	}()
	d, err := mp3.NewDecoder(hideSeek{bytes.NewReader(b)})
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Clip{}, mp3Err(ErrEmpty, "no audio frames")
		}
		return Clip{}, mp3Err(ErrCorrupt, "header: %v", err)
	}
	rate := d.SampleRate()
	if rate < MinSampleRate || rate > MaxSampleRate {
		return Clip{}, mp3Err(ErrCorrupt, "sample rate %d Hz", rate)
	}
	var out []float32
	buf := make([]byte, 4*1152*4)
	pending := 0 // bytes of a partial stereo frame carried to the next read
	for {
		n, rerr := d.Read(buf[pending:])
		n += pending
		whole := n - n%4
		if next := int64(len(out) + whole/4); next > mp3FreeSamples && next > mp3MaxExpansion*int64(len(b)) {
			return Clip{}, mp3Err(ErrTooLarge, "stream expands past %d samples per input byte", mp3MaxExpansion)
		}
		if err := lim.checkFrames(int64(len(out)+whole/4), rate); err != nil {
			return Clip{}, err
		}
		if err := lim.checkSamples(int64(len(out) + whole/4)); err != nil {
			return Clip{}, err
		}
		for i := 0; i < whole; i += 4 {
			l := int16(binary.LittleEndian.Uint16(buf[i:]))
			r := int16(binary.LittleEndian.Uint16(buf[i+2:]))
			out = append(out, float32(int32(l)+int32(r))/(2*32768))
		}
		pending = copy(buf, buf[whole:n])
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			if len(out) > 0 {
				// A damaged tail after real audio: keep what decoded, as
				// players do; the caller still gets a usable clip.
				break
			}
			return Clip{}, mp3Err(ErrCorrupt, "frame: %v", rerr)
		}
	}
	if len(out) == 0 {
		return Clip{}, mp3Err(ErrEmpty, "stream holds no frames")
	}
	return Clip{SampleRate: rate, Channels: 1, Samples: out, Format: "mp3"}, nil
}
