package listen

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/audio"
)

// Deepgram takes containerised audio on a live stream when the query names
// no encoding. Izwi takes one container there, WAV, whose header comes
// first and whose samples follow it as raw frames: the header is parsed,
// and the rest of the stream is treated as the raw format it declares.
// Sizes in the header are ignored (streaming writers put 0 or 0xFFFFFFFF).

// maxWAVHeader bounds how much is buffered looking for the data chunk.
const maxWAVHeader = 64 << 10

var (
	errNeedMore = errors.New("listen: wav header incomplete")
	errNotWAV   = errors.New("listen: not a WAV stream")
)

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavALaw       = 6
	wavMuLaw      = 7
	wavExtensible = 0xFFFE
)

// parseWAVHeader reads a WAV header from the start of a stream. It returns
// the raw format of the samples and how many bytes the header took, or
// errNeedMore when b ends inside the header, or an error wrapping
// errNotWAV that says what is wrong.
func parseWAVHeader(b []byte) (audio.RawFormat, int, error) {
	if len(b) < 12 {
		if !prefixOK(b) {
			return audio.RawFormat{}, 0, fmt.Errorf("%w: no RIFF/WAVE header", errNotWAV)
		}
		return audio.RawFormat{}, 0, errNeedMore
	}
	if !prefixOK(b[:4]) || string(b[8:12]) != "WAVE" {
		return audio.RawFormat{}, 0, fmt.Errorf("%w: no RIFF/WAVE header", errNotWAV)
	}
	le := binary.LittleEndian
	var f audio.RawFormat
	haveFmt := false
	for off := 12; ; {
		if off+8 > len(b) {
			return audio.RawFormat{}, 0, needMore(len(b))
		}
		id, size := string(b[off:off+4]), int64(le.Uint32(b[off+4:]))
		off += 8
		if id == "data" {
			if !haveFmt {
				return audio.RawFormat{}, 0, fmt.Errorf("%w: data before fmt", errNotWAV)
			}
			return f, off, nil
		}
		// Every other chunk must fit in the header budget.
		if size > maxWAVHeader {
			return audio.RawFormat{}, 0, fmt.Errorf("%w: %q chunk of %d bytes before the samples", errNotWAV, id, size)
		}
		end := off + int(size) + int(size&1) // chunks are padded to even sizes
		if end > len(b) {
			return audio.RawFormat{}, 0, needMore(len(b))
		}
		if id == "fmt " {
			var err error
			if f, err = parseFmt(b[off : off+int(size)]); err != nil {
				return audio.RawFormat{}, 0, err
			}
			haveFmt = true
		}
		off = end
	}
}

func prefixOK(b []byte) bool {
	for _, magic := range []string{"RIFF", "RF64", "BW64"} {
		if len(b) <= 4 && magic[:len(b)] == string(b) || len(b) >= 4 && string(b[:4]) == magic {
			return true
		}
	}
	return false
}

func needMore(have int) error {
	if have >= maxWAVHeader {
		return fmt.Errorf("%w: no data chunk in the first %d bytes", errNotWAV, maxWAVHeader)
	}
	return errNeedMore
}

// parseFmt maps a fmt chunk to a raw format the live path decodes.
func parseFmt(c []byte) (audio.RawFormat, error) {
	if len(c) < 16 {
		return audio.RawFormat{}, fmt.Errorf("%w: fmt chunk of %d bytes", errNotWAV, len(c))
	}
	le := binary.LittleEndian
	tag, channels, rate, bits := le.Uint16(c), int(le.Uint16(c[2:])), int(le.Uint32(c[4:])), le.Uint16(c[14:])
	if tag == wavExtensible && len(c) >= 26 {
		tag = le.Uint16(c[24:]) // the subformat GUID starts with the tag
	}
	var enc string
	switch {
	case tag == wavPCM && bits == 16:
		enc = audio.EncLinear16
	case tag == wavPCM && bits == 32:
		enc = audio.EncLinear32
	case tag == wavFloat && bits == 32:
		enc = audio.EncFloat32
	case tag == wavALaw && bits == 8:
		enc = audio.EncALaw
	case tag == wavMuLaw && bits == 8:
		enc = audio.EncMuLaw
	default:
		return audio.RawFormat{}, fmt.Errorf("%w: format tag %d with %d bits is not streamed (use 16-bit PCM)", errNotWAV, tag, bits)
	}
	f, err := audio.ParseRawFormat(enc, rate, channels)
	if err != nil {
		return audio.RawFormat{}, fmt.Errorf("%w: %d Hz × %d channels (want 8000–48000 Hz, 1–2 channels)", errNotWAV, rate, channels)
	}
	return f, nil
}
