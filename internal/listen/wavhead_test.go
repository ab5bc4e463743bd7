package listen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/izwi-speech/izwi/internal/audio"
)

// wavHeader builds a header: RIFF, fmt with tag/channels/rate/bits, extra
// chunks, then the data chunk header.
func wavHeader(tag uint16, channels, rate int, bits uint16, extra ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF\xff\xff\xff\xffWAVE")
	for _, x := range extra {
		b.Write(x)
	}
	fmtc := make([]byte, 16)
	le := binary.LittleEndian
	le.PutUint16(fmtc, tag)
	le.PutUint16(fmtc[2:], uint16(channels))
	le.PutUint32(fmtc[4:], uint32(rate))
	le.PutUint16(fmtc[14:], bits)
	b.WriteString("fmt \x10\x00\x00\x00")
	b.Write(fmtc)
	b.WriteString("data\xff\xff\xff\xff")
	return b.Bytes()
}

func TestParseWAVHeader(t *testing.T) {
	list := []byte("LIST\x03\x00\x00\x00abc\x00") // odd size, padded
	for _, tc := range []struct {
		name string
		b    []byte
		want audio.RawFormat
		err  error
	}{
		{"pcm16", wavHeader(1, 1, 16000, 16), audio.RawFormat{Encoding: "linear16", SampleRate: 16000, Channels: 1}, nil},
		{"float stereo with LIST", wavHeader(3, 2, 48000, 32, list), audio.RawFormat{Encoding: "float32", SampleRate: 48000, Channels: 2}, nil},
		{"mulaw", wavHeader(7, 1, 8000, 8), audio.RawFormat{Encoding: "mulaw", SampleRate: 8000, Channels: 1}, nil},
		{"alaw", wavHeader(6, 1, 8000, 8), audio.RawFormat{Encoding: "alaw", SampleRate: 8000, Channels: 1}, nil},
		{"pcm24", wavHeader(1, 1, 16000, 24), audio.RawFormat{}, errNotWAV},
		{"96 kHz", wavHeader(1, 1, 96000, 16), audio.RawFormat{}, errNotWAV},
		{"6 channels", wavHeader(1, 6, 16000, 16), audio.RawFormat{}, errNotWAV},
		{"truncated", wavHeader(1, 1, 16000, 16)[:30], audio.RawFormat{}, errNeedMore},
		{"prefix", []byte("RI"), audio.RawFormat{}, errNeedMore},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), audio.RawFormat{}, errNotWAV},
		{"data before fmt", []byte("RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"), audio.RawFormat{}, errNotWAV},
		{"huge chunk", append([]byte("RIFF\x00\x00\x00\x00WAVEJUNK\xff\xff\xff\xff"), make([]byte, 100)...), audio.RawFormat{}, errNotWAV},
		{"short fmt", []byte("RIFF\x00\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00data"), audio.RawFormat{}, errNotWAV},
	} {
		f, n, err := parseWAVHeader(tc.b)
		if !errors.Is(err, tc.err) || f != tc.want || (err == nil && n != len(tc.b)) {
			t.Errorf("%s: %+v %d %v, want %+v %v", tc.name, f, n, err, tc.want, tc.err)
		}
	}
	if _, _, err := parseWAVHeader(append([]byte("RIFF\x00\x00\x00\x00WAVE"), bytes.Repeat([]byte("JUNK\x00\x00\x00\x00"), maxWAVHeader/8)...)); !errors.Is(err, errNotWAV) {
		t.Errorf("no data chunk in %d bytes: %v, want errNotWAV", maxWAVHeader, err)
	}
}

// FuzzParseWAVHeader: any bytes give a format the live path accepts, ask
// for more (only below the header budget), or are refused; the header
// length never passes the input.
func FuzzParseWAVHeader(f *testing.F) {
	f.Add(wavHeader(1, 1, 16000, 16))
	f.Add(wavHeader(0xFFFE, 2, 44100, 16))
	f.Add(wavHeader(3, 2, 48000, 32, []byte("LIST\x03\x00\x00\x00abc\x00")))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata"))
	f.Add([]byte("RF64\xff\xff\xff\xffWAVEds64\x1c\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fm, n, err := parseWAVHeader(b)
		switch {
		case err == nil:
			if n > len(b) || n < 12 {
				t.Fatalf("header length %d of %d bytes", n, len(b))
			}
			if _, err := audio.ParseRawFormat(fm.Encoding, fm.SampleRate, fm.Channels); err != nil {
				t.Fatalf("format %+v: %v", fm, err)
			}
		case errors.Is(err, errNeedMore):
			if len(b) >= maxWAVHeader {
				t.Fatalf("asks for more after %d bytes", len(b))
			}
		case !errors.Is(err, errNotWAV):
			t.Fatalf("error %v", err)
		}
	})
}
