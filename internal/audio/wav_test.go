package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// chunk is one RIFF chunk for hand-built files; size < 0 means len(body).
type chunk struct {
	id   string
	size int64
	body []byte
}

func riff(magic string, chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		size := uint32(len(c.body))
		if c.size >= 0 {
			size = uint32(c.size)
		}
		binary.Write(&b, binary.LittleEndian, size)
		b.Write(c.body)
		if len(c.body)%2 == 1 {
			b.WriteByte(0)
		}
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func fmtBody(tag, ch uint16, rate uint32, bits uint16) []byte {
	b := make([]byte, 16)
	le := binary.LittleEndian
	le.PutUint16(b[0:], tag)
	le.PutUint16(b[2:], ch)
	le.PutUint32(b[4:], rate)
	bytesPer := uint32(bits+7) / 8
	le.PutUint32(b[8:], rate*uint32(ch)*bytesPer)
	le.PutUint16(b[12:], ch*uint16(bytesPer))
	le.PutUint16(b[14:], bits)
	return b
}

func extensibleBody(sub, ch uint16, rate uint32, bits, valid uint16) []byte {
	b := fmtBody(tagExtensible, ch, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)
	binary.LittleEndian.PutUint16(ext[2:], valid)
	binary.LittleEndian.PutUint16(ext[8:], sub)
	copy(ext[10:], ksSubformatSuffix)
	return append(b, ext...)
}

func le16s(v ...int16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
	}
	return b
}

func TestDecodeWAVFormats(t *testing.T) {
	f32 := func(v ...float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	f64 := func(v ...float64) []byte {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	}
	i32 := func(v ...int32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
		return b
	}
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name   string
		file   []byte
		format string
		ch     int
		want   []float32
	}{
		{"pcm16", riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 16000, 16)}, chunk{"data", -1, le16s(0, 16384, -32768, 32767)}),
			"wav/pcm16", 1, []float32{0, 0.5, -1, 32767.0 / 32768}},
		{"pcm8 unsigned", riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 8000, 8)}, chunk{"data", -1, []byte{0x80, 0xC0, 0x00, 0x40}}),
			"wav/pcm8", 1, []float32{0, 0.5, -1, -0.5}},
		{"pcm24 stereo", riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 2, 48000, 24)}, chunk{"data", -1, []byte{0, 0, 0x40, 0, 0, 0xC0}}),
			"wav/pcm24", 2, []float32{0.5, -0.5}},
		{"pcm32", riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 44100, 32)}, chunk{"data", -1, i32(1<<30, -1<<31)}),
			"wav/pcm32", 1, []float32{0.5, -1}},
		{"float32 sanitised", riff("RIFF", chunk{"fmt ", -1, fmtBody(3, 1, 22050, 32)}, chunk{"data", -1, f32(0.25, nan, 2, -3)}),
			"wav/float32", 1, []float32{0.25, 0, 1, -1}},
		{"float64", riff("RIFF", chunk{"fmt ", -1, fmtBody(3, 1, 96000, 64)}, chunk{"data", -1, f64(-0.125, 0.75)}),
			"wav/float64", 1, []float32{-0.125, 0.75}},
		{"mulaw", riff("RIFF", chunk{"fmt ", -1, fmtBody(7, 1, 8000, 8)}, chunk{"data", -1, []byte{0xFF, 0x00, 0x80}}),
			"wav/mulaw", 1, []float32{0, -32124.0 / 32768, 32124.0 / 32768}},
		{"alaw", riff("RIFF", chunk{"fmt ", -1, fmtBody(6, 1, 8000, 8)}, chunk{"data", -1, []byte{0xD5, 0x2A, 0xAA}}),
			"wav/alaw", 1, []float32{8.0 / 32768, -32256.0 / 32768, 32256.0 / 32768}},
		{"extensible pcm24 in 32", riff("RIFF", chunk{"fmt ", -1, extensibleBody(1, 1, 48000, 32, 24)}, chunk{"data", -1, i32(-1 << 30)}),
			"wav/pcm32", 1, []float32{-0.5}},
		{"extensible float 6ch", riff("RIFF", chunk{"fmt ", -1, extensibleBody(3, 6, 48000, 32, 32)}, chunk{"data", -1, f32(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)}),
			"wav/float32", 6, []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}},
		{"LIST, odd chunk with pad, data before fmt", riff("RIFF", chunk{"LIST", -1, []byte("INFOabc")}, chunk{"data", -1, le16s(100)},
			chunk{"junk", 0, nil}, chunk{"fmt ", -1, fmtBody(1, 1, 16000, 16)}), "wav/pcm16", 1, []float32{100.0 / 32768}},
		{"data size 0xFFFFFFFF (streamed)", riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 16000, 16)}, chunk{"data", 0xFFFFFFFF, le16s(1, 2, 3)}),
			"wav/pcm16", 1, []float32{1.0 / 32768, 2.0 / 32768, 3.0 / 32768}},
		{"data size beyond file, partial frame dropped", func() []byte {
			b := riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 16000, 16)}, chunk{"data", 1000, le16s(7, 8)})
			return b[:len(b)-1]
		}(),
			"wav/pcm16", 1, []float32{7.0 / 32768}},
		{"RF64 with ds64", riff("RF64", chunk{"ds64", -1, func() []byte { b := make([]byte, 28); b[8] = 2; return b }()}, chunk{"fmt ", -1, fmtBody(1, 1, 16000, 16)}, chunk{"data", 0xFFFFFFFF, le16s(-16384)}),
			"wav/pcm16", 1, []float32{-0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(bytes.NewReader(tc.file), Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if c.Format != tc.format || c.Channels != tc.ch {
				t.Errorf("format %q × %d, want %q × %d", c.Format, c.Channels, tc.format, tc.ch)
			}
			if len(c.Samples) != len(tc.want) {
				t.Fatalf("samples %v, want %v", c.Samples, tc.want)
			}
			for i := range tc.want {
				if math.Abs(float64(c.Samples[i]-tc.want[i])) > 1e-7 {
					t.Fatalf("samples %v, want %v", c.Samples, tc.want)
				}
			}
		})
	}
}

func TestDecodeRejectsHostileWAV(t *testing.T) {
	pcm := fmtBody(1, 1, 16000, 16)
	data := chunk{"data", -1, le16s(1, 2, 3, 4)}
	fmtc := chunk{"fmt ", -1, pcm}
	with := func(mut func([]byte)) []byte { b := append([]byte(nil), pcm...); mut(b); return b }
	for _, tc := range []struct {
		name string
		file []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrEmpty, "empty"},
		{"not audio", []byte("hello, this is not audio at all"), ErrCorrupt, "unrecognised"},
		{"mp3 with id3", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), ErrUnsupported, "ID3"},
		{"header only", riff("RIFF"), ErrCorrupt, "no fmt"},
		{"fmt size 0", riff("RIFF", chunk{"fmt ", -1, nil}, data), ErrCorrupt, "fmt chunk of 0 bytes"},
		{"fmt size 12", riff("RIFF", chunk{"fmt ", -1, pcm[:12]}, data), ErrCorrupt, "fmt chunk of 12 bytes, want ≥ 16"},
		{"fmt size beyond file", riff("RIFF", chunk{"fmt ", 0xFFFFFFFF, pcm}), ErrCorrupt, "fmt chunk of 4294967295"},
		{"extensible fmt of 18", riff("RIFF", chunk{"fmt ", -1, append(fmtBody(tagExtensible, 1, 16000, 16), 0, 0)}, data), ErrCorrupt, "want ≥ 40"},
		{"extensible odd GUID", riff("RIFF", chunk{"fmt ", -1, func() []byte { b := extensibleBody(1, 1, 16000, 16, 16); b[30] = 9; return b }()}, data), ErrUnsupported, "GUID"},
		{"channels 0", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[2] = 0 })}, data), ErrCorrupt, "0 channels"},
		{"channels 300", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { binary.LittleEndian.PutUint16(b[2:], 300) })}, data), ErrUnsupported, "300 channels"},
		{"bits 0", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[14] = 0 })}, data), ErrCorrupt, "0 bits"},
		{"bits 48", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[14] = 48 })}, data), ErrUnsupported, "48-bit PCM"},
		{"rate 0", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 0) })}, data), ErrCorrupt, "sample rate 0"},
		{"rate 1 MHz", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 1e6) })}, data), ErrUnsupported, "1000000 Hz"},
		{"mp3 in wav", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[0] = 0x55 })}, data), ErrUnsupported, "0x0055"},
		{"adpcm", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[0] = 2; b[14] = 4 })}, data), ErrUnsupported, "0x0002"},
		{"padded block align", riff("RIFF", chunk{"fmt ", -1, with(func(b []byte) { b[12] = 4 })}, data), ErrUnsupported, "block align 4"},
		{"RIFF but AVI", []byte("RIFF\x04\x00\x00\x00AVI "), ErrUnsupported, "AVI"},
		{"duplicate fmt", riff("RIFF", fmtc, fmtc, data), ErrCorrupt, "duplicate fmt"},
		{"duplicate data", riff("RIFF", fmtc, data, data), ErrCorrupt, "duplicate data"},
		{"no data", riff("RIFF", fmtc, chunk{"LIST", 0, nil}, chunk{"LIST", 0, nil}), ErrCorrupt, "no data"},
		{"empty data", riff("RIFF", fmtc, chunk{"data", 0, nil}), ErrEmpty, "no complete frame"},
		{"one byte of pcm16", riff("RIFF", fmtc, chunk{"data", -1, []byte{1}}), ErrEmpty, "no complete frame"},
		{"huge LIST before fmt", riff("RIFF", chunk{"LIST", 0xFFFFFFFE, nil}, fmtc, data), ErrCorrupt, "no fmt"},
		{"RF64 without ds64", riff("RF64", fmtc, data), ErrCorrupt, "ds64"},
		{"RF64 short ds64", riff("RF64", chunk{"ds64", -1, make([]byte, 8)}, fmtc, data), ErrCorrupt, "ds64 chunk of 8"},
		{"ds64 in RIFF", riff("RIFF", chunk{"ds64", -1, make([]byte, 28)}, fmtc, data), ErrCorrupt, "ds64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(bytes.NewReader(tc.file), Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %d samples, %v; want %v", len(c.Samples), err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "audio: ") {
				t.Errorf("error %q should start with \"audio: \" and mention %q", err, tc.msg)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	file := riff("RIFF", chunk{"fmt ", -1, fmtBody(1, 1, 8000, 16)}, chunk{"data", -1, make([]byte, 2*8000)}) // 1 s
	if _, err := Decode(bytes.NewReader(file), Limits{MaxBytes: int64(len(file)) - 1}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBytes one short: %v, want ErrTooLarge", err)
	}
	if _, err := Decode(bytes.NewReader(file), Limits{MaxBytes: int64(len(file))}); err != nil {
		t.Errorf("MaxBytes exact: %v", err)
	}
	if _, err := Decode(bytes.NewReader(file), Limits{MaxDuration: 999 * time.Millisecond}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxDuration just under 1 s: %v, want ErrTooLarge", err)
	}
	c, err := Decode(bytes.NewReader(file), Limits{MaxDuration: time.Second})
	if err != nil || c.Duration() != time.Second || c.Frames() != 8000 {
		t.Errorf("MaxDuration 1 s: %v, duration %v, frames %d", err, c.Duration(), c.Frames())
	}
}

func TestClipMono(t *testing.T) {
	c := Clip{SampleRate: 8000, Channels: 3, Samples: []float32{0.3, 0.6, 0.9, -1, 0, 1}}
	m := c.Mono()
	if len(m) != 2 || math.Abs(float64(m[0])-0.6) > 1e-6 || m[1] != 0 {
		t.Errorf("Mono() = %v, want [0.6 0]", m)
	}
	one := Clip{SampleRate: 8000, Channels: 1, Samples: []float32{1, 2}}
	if &one.Mono()[0] != &one.Samples[0] {
		t.Error("Mono() on mono must return Samples itself")
	}
	if (Clip{}).Frames() != 0 || (Clip{}).Duration() != 0 {
		t.Error("zero Clip must have no frames and no duration")
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"RIFF\x00\x00\x00\x00WAVEfmt ": "wav",
		"RF64\xff\xff\xff\xffWAVE":     "wav",
		"BW64\xff\xff\xff\xffWAVE":     "wav",
		"fLaC\x00\x00\x00\x22":         "flac",
		"RIFF\x00\x00\x00\x00AVI ":     "",
		"RIFF\x00\x00":                 "",
		"ID3\x04":                      "",
		"OggS":                         "ogg",
		"\x1a\x45\xdf\xa3\x9f\x42":     "webm",
		"\x00\x00\x00\x20ftypM4A ":     "mp4",
		"\xff\xf1\x50\x80\x02\x1f\xfc": "aac",
		"\xff\xf1\x50\x80\x00\x00\xfc": "", // ADTS frame shorter than its header
		"":                             "",
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %q, want %q", in, got, want)
		}
	}
}
