package audio

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mewkiz/flac"
)

// flacMaxExpansion bounds decoded samples per input byte once a stream has
// produced more than flacFreeSamples (16 MB of float32), so short files of
// digital silence still decode; see decodeFLAC.
const (
	flacMaxExpansion = 64
	flacFreeSamples  = 1 << 22
)

func flacErr(kind error, format string, args ...any) error {
	return fmt.Errorf("audio: flac: "+format+": %w", append(args, kind)...)
}

// decodeFLAC decodes a FLAC stream with github.com/mewkiz/flac.
//
// Memory: FLAC legitimately compresses digital silence by several hundred
// to one, so a 4 KB hostile stream of constant subframes can claim 700 MB of
// samples (found by FuzzDecode). Decoding therefore stops with ErrTooLarge
// past flacMaxExpansion samples per input byte (real speech FLAC yields about
// one) beyond the first flacFreeSamples, as well as past Limits.MaxDuration, both checked frame by frame
// before samples are appended. The StreamInfo sample count is never used to
// pre-allocate.
//
// mewkiz/flac is a pure-Go decoder that was not written for hostile input;
// any panic inside it is recovered here and reported as ErrCorrupt, so one bad
// upload cannot take the server down.
func decodeFLAC(b []byte, lim Limits) (clip Clip, err error) {
	defer func() {
		if r := recover(); r != nil {
			clip, err = Clip{}, flacErr(ErrCorrupt, "decoder panic: %v", r)
		}
	}()
	// The first metadata block must be a 34-byte STREAMINFO. Checked here
	// because mewkiz/flac fully parses whatever block comes first, and a
	// SEEKTABLE there makes it allocate from the claimed length (found by
	// FuzzDecode: 8 bytes in, 8 MB allocated).
	if len(b) < 8+34 || b[4]&0x7F != 0 || int(b[5])<<16|int(b[6])<<8|int(b[7]) != 34 {
		return Clip{}, flacErr(ErrCorrupt, "first metadata block is not a 34-byte STREAMINFO")
	}
	s, err := flac.New(bytes.NewReader(b))
	if err != nil {
		return Clip{}, flacErr(ErrCorrupt, "header: %v", err)
	}
	info := s.Info
	if info == nil {
		return Clip{}, flacErr(ErrCorrupt, "missing STREAMINFO")
	}
	rate, ch, bps := int(info.SampleRate), int(info.NChannels), int(info.BitsPerSample)
	switch {
	case ch == 0 || bps == 0 || rate == 0:
		return Clip{}, flacErr(ErrCorrupt, "STREAMINFO with %d Hz, %d channels, %d bits", rate, ch, bps)
	case rate < MinSampleRate || rate > MaxSampleRate:
		return Clip{}, flacErr(ErrUnsupported, "sample rate %d Hz outside %d–%d", rate, MinSampleRate, MaxSampleRate)
	case bps > 32:
		return Clip{}, flacErr(ErrUnsupported, "%d bits per sample", bps)
	}
	scale := 1 / float64(uint64(1)<<(bps-1))
	var out []float32
	var frames int64
	for {
		f, err := s.ParseNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Clip{}, flacErr(ErrCorrupt, "frame %d: %v", frames, err)
		}
		n := int(f.BlockSize)
		if len(f.Subframes) != ch || int(f.BitsPerSample) != bps {
			return Clip{}, flacErr(ErrCorrupt, "frame with %d channels of %d bits in a %d×%d-bit stream",
				len(f.Subframes), f.BitsPerSample, ch, bps)
		}
		for _, sf := range f.Subframes {
			if len(sf.Samples) != n {
				return Clip{}, flacErr(ErrCorrupt, "subframe of %d samples in a block of %d", len(sf.Samples), n)
			}
		}
		frames += int64(n)
		if err := lim.checkFrames(frames, rate); err != nil {
			return Clip{}, err
		}
		if err := lim.checkSamples(int64(len(out)) + int64(n*ch)); err != nil {
			return Clip{}, err
		}
		if next := int64(len(out)) + int64(n*ch); next > flacFreeSamples && next > flacMaxExpansion*int64(len(b)) {
			return Clip{}, flacErr(ErrTooLarge, "stream expands past %d samples per input byte", flacMaxExpansion)
		}
		for i := range n {
			for c := range ch {
				// sanitize: a hostile stream can decode past full scale.
				out = append(out, sanitize(float64(f.Subframes[c].Samples[i])*scale))
			}
		}
	}
	if len(out) == 0 {
		return Clip{}, flacErr(ErrEmpty, "stream holds no frames")
	}
	return Clip{SampleRate: rate, Channels: ch, Samples: out, Format: fmt.Sprintf("flac/%d", bps)}, nil
}
