package audio

import (
	"encoding/binary"
	"fmt"
	"math"
)

// WAVE format tags (mmreg.h).
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagALaw       = 0x0006
	tagMuLaw      = 0x0007
	tagExtensible = 0xFFFE
)

// ksSubformatSuffix is bytes 2..16 of every KSDATAFORMAT_SUBTYPE_* GUID whose
// first two bytes are a plain format tag.
const ksSubformatSuffix = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"

// wavFormat is the part of a fmt chunk we act on.
type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	sampleSize int // container bytes per sample
}

func wavErr(kind error, format string, args ...any) error {
	return fmt.Errorf("audio: wav: "+format+": %w", append(args, kind)...)
}

// decodeWAV walks the chunks of a RIFF/RF64 WAVE file held in b. The walk
// always advances by at least 8 bytes, so zero-length chunks cannot loop;
// sizes beyond the data are clamped for the data chunk (streamed WAVs write
// 0xFFFFFFFF there) and end the walk for any other chunk. Duplicate fmt or
// data chunks are refused as ambiguous; data before fmt is accepted, since
// the whole file is in memory and the order changes nothing.
func decodeWAV(b []byte, lim Limits) (Clip, error) {
	rf64 := string(b[0:4]) != "RIFF"
	var (
		fmtSeen, dataSeen bool
		wf                wavFormat
		dataStart         int
		dataLen           int
		ds64Data          uint64
		ds64Seen          bool
	)
	for pos, first := 12, true; len(b)-pos >= 8; first = false {
		id := string(b[pos : pos+4])
		size := uint64(binary.LittleEndian.Uint32(b[pos+4 : pos+8]))
		body := pos + 8
		avail := uint64(len(b) - body)
		switch {
		case id == "ds64":
			if !rf64 || !first || ds64Seen {
				return Clip{}, wavErr(ErrCorrupt, "unexpected ds64 chunk")
			}
			if size < 24 || size > avail {
				return Clip{}, wavErr(ErrCorrupt, "ds64 chunk of %d bytes, want ≥ 24 present", size)
			}
			ds64Seen = true
			ds64Data = binary.LittleEndian.Uint64(b[body+8 : body+16])
		case rf64 && first:
			return Clip{}, wavErr(ErrCorrupt, "RF64 file without leading ds64 chunk")
		case id == "fmt ":
			if fmtSeen {
				return Clip{}, wavErr(ErrCorrupt, "duplicate fmt chunk")
			}
			if size > avail {
				return Clip{}, wavErr(ErrCorrupt, "fmt chunk of %d bytes but %d present", size, avail)
			}
			var err error
			if wf, err = parseFmt(b[body : body+int(size)]); err != nil {
				return Clip{}, err
			}
			fmtSeen = true
		case id == "data":
			if dataSeen {
				return Clip{}, wavErr(ErrCorrupt, "duplicate data chunk")
			}
			dataSeen = true
			if rf64 && size == math.MaxUint32 && ds64Seen {
				size = ds64Data
			}
			if size > avail {
				size = avail // truncated or streamed file: take what is here
			}
			dataStart, dataLen = body, int(size)
		default:
			if size > avail {
				pos = len(b) // a truncated trailing chunk (LIST, junk) ends the walk
				continue
			}
		}
		if size > avail {
			size = avail
		}
		pos = body + int(size) + int(size&1) // odd chunks carry a pad byte
	}
	if !fmtSeen {
		return Clip{}, wavErr(ErrCorrupt, "no fmt chunk")
	}
	if !dataSeen {
		return Clip{}, wavErr(ErrCorrupt, "no data chunk")
	}
	return wf.decode(b[dataStart:dataStart+dataLen], lim)
}

// parseFmt validates a fmt chunk body.
func parseFmt(f []byte) (wavFormat, error) {
	if len(f) < 16 {
		return wavFormat{}, wavErr(ErrCorrupt, "fmt chunk of %d bytes, want ≥ 16", len(f))
	}
	le := binary.LittleEndian
	tag := le.Uint16(f[0:2])
	ch := int(le.Uint16(f[2:4]))
	rate := int(le.Uint32(f[4:8]))
	blockAlign := int(le.Uint16(f[12:14]))
	bits := int(le.Uint16(f[14:16]))
	if tag == tagExtensible {
		if len(f) < 40 {
			return wavFormat{}, wavErr(ErrCorrupt, "extensible fmt chunk of %d bytes, want ≥ 40", len(f))
		}
		if cb := le.Uint16(f[16:18]); cb < 22 {
			return wavFormat{}, wavErr(ErrCorrupt, "extensible fmt extension of %d bytes, want ≥ 22", cb)
		}
		if string(f[26:40]) != ksSubformatSuffix {
			return wavFormat{}, wavErr(ErrUnsupported, "extensible sub-format GUID %x", f[24:40])
		}
		tag = le.Uint16(f[24:26])
	}
	switch {
	case ch == 0:
		return wavFormat{}, wavErr(ErrCorrupt, "0 channels")
	case ch > MaxChannels:
		return wavFormat{}, wavErr(ErrUnsupported, "%d channels, at most %d", ch, MaxChannels)
	case rate == 0:
		return wavFormat{}, wavErr(ErrCorrupt, "sample rate 0")
	case rate < MinSampleRate || rate > MaxSampleRate:
		return wavFormat{}, wavErr(ErrUnsupported, "sample rate %d Hz outside %d–%d", rate, MinSampleRate, MaxSampleRate)
	case bits == 0:
		return wavFormat{}, wavErr(ErrCorrupt, "0 bits per sample")
	}
	wf := wavFormat{tag: tag, channels: ch, rate: rate, sampleSize: (bits + 7) / 8}
	switch tag {
	case tagPCM:
		if bits > 32 {
			return wavFormat{}, wavErr(ErrUnsupported, "%d-bit PCM", bits)
		}
	case tagFloat:
		if bits != 32 && bits != 64 {
			return wavFormat{}, wavErr(ErrUnsupported, "%d-bit float", bits)
		}
	case tagALaw, tagMuLaw:
		if bits != 8 {
			return wavFormat{}, wavErr(ErrUnsupported, "%d-bit G.711", bits)
		}
	default:
		return wavFormat{}, wavErr(ErrUnsupported, "format tag 0x%04x", tag)
	}
	// A smaller block align is a common writer bug and harmless (frames are
	// sized from bits and channels); a larger one means padded containers
	// whose justification we cannot know, so refuse rather than guess.
	if blockAlign > wf.sampleSize*ch {
		return wavFormat{}, wavErr(ErrUnsupported, "block align %d for %d channels of %d bits", blockAlign, ch, bits)
	}
	return wf, nil
}

func (wf wavFormat) name() string {
	switch wf.tag {
	case tagFloat:
		return fmt.Sprintf("wav/float%d", wf.sampleSize*8)
	case tagALaw:
		return "wav/alaw"
	case tagMuLaw:
		return "wav/mulaw"
	}
	return fmt.Sprintf("wav/pcm%d", wf.sampleSize*8)
}

// decode converts whole frames of data; a trailing partial frame is dropped.
func (wf wavFormat) decode(data []byte, lim Limits) (Clip, error) {
	frame := wf.sampleSize * wf.channels
	frames := len(data) / frame
	if frames == 0 {
		return Clip{}, wavErr(ErrEmpty, "data chunk holds no complete frame")
	}
	if err := lim.checkFrames(int64(frames), wf.rate); err != nil {
		return Clip{}, err
	}
	if err := lim.checkSamples(int64(frames) * int64(wf.channels)); err != nil {
		return Clip{}, err
	}
	n := frames * wf.channels
	out := make([]float32, n)
	le := binary.LittleEndian
	switch {
	case wf.tag == tagMuLaw || wf.tag == tagALaw:
		table := g711Table(wf.tag == tagALaw)
		for i := range out {
			out[i] = table[data[i]]
		}
	case wf.tag == tagFloat && wf.sampleSize == 4:
		for i := range out {
			out[i] = sanitize(float64(math.Float32frombits(le.Uint32(data[4*i:]))))
		}
	case wf.tag == tagFloat:
		for i := range out {
			out[i] = sanitize(math.Float64frombits(le.Uint64(data[8*i:])))
		}
	case wf.sampleSize == 1: // 8-bit WAV PCM is unsigned
		for i := range out {
			out[i] = float32(int(data[i])-128) / 128
		}
	case wf.sampleSize == 2:
		for i := range out {
			out[i] = float32(int16(le.Uint16(data[2*i:]))) / (1 << 15)
		}
	case wf.sampleSize == 3:
		for i := range out {
			p := data[3*i:]
			v := int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24) >> 8
			out[i] = float32(v) / (1 << 23)
		}
	default: // 4
		for i := range out {
			out[i] = float32(float64(int32(le.Uint32(data[4*i:]))) / (1 << 31))
		}
	}
	return Clip{SampleRate: wf.rate, Channels: wf.channels, Samples: out, Format: wf.name()}, nil
}

// g711Table builds the 256-entry ITU-T G.711 expansion table (A-law or
// μ-law) scaled to [-1, 1]. It is built per call, not kept in a package
// variable: 256 entries cost less than a millisecond.
func g711Table(alaw bool) *[256]float32 {
	var t [256]float32
	for i := range 256 {
		var v int
		if alaw {
			a := i ^ 0x55
			m := (a & 0x0F) << 4
			switch seg := (a & 0x70) >> 4; seg {
			case 0:
				m += 8
			case 1:
				m += 0x108
			default:
				m = (m + 0x108) << (seg - 1)
			}
			if a&0x80 != 0 {
				v = m
			} else {
				v = -m
			}
		} else {
			u := ^i & 0xFF
			m := ((u & 0x0F) << 3) + 0x84
			m <<= (u & 0x70) >> 4
			if u&0x80 != 0 {
				v = 0x84 - m
			} else {
				v = m - 0x84
			}
		}
		t[i] = float32(v) / (1 << 15)
	}
	return &t
}
