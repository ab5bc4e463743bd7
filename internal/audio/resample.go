package audio

import (
	"fmt"
	"math"
)

// Resampling is written by hand: the one maintained pure-Go candidate found
// (tphakala/go-audio-resampler, a libsoxr port) was a fresh v1.0.0 pulling in
// an assembly SIMD dependency, while Izwi needs only mono float32 at common
// speech rates, with streaming output that matches one-shot output exactly.
//
// The design is the textbook rational polyphase FIR: for from→to with
// g = gcd(from, to), L = to/g and M = from/g, output sample j sits at input
// time t = j·M/L and is the dot product of the input around t with a
// Kaiser-windowed sinc evaluated at the L possible fractional offsets of t.
// The low-pass passes up to 87.5% of the lower Nyquist rate and reaches
// stopAttenuationDB at that Nyquist rate (e.g. 7 kHz flat, ≥ 80 dB down
// from 8 kHz for 48k→16k). Gain is 1 at DC in both directions and the filter
// is zero-phase, so output is time-aligned with input (no delay to trim).
const (
	passFraction      = 0.875 // passband edge / lower Nyquist
	stopAttenuationDB = 80.0
	maxPolyphaseTable = 1 << 20 // coefficients; beyond, interpolate a dense kernel
	denseSteps        = 512     // dense kernel points per input sample
)

// Resampler converts a mono stream from one rate to another. Process may be
// called with chunks of any size; the concatenation of its outputs and
// Flush's equals Resample over the whole input. Process holds back only the
// filter's half-width, about 40 samples at the lower rate (2.5 ms at 16 kHz),
// so live captions see output at once. A Resampler is used by one goroutine
// at a time.
type Resampler struct {
	from, to int
	l, m     int64
	k        int       // filter half-width in input samples; taps = 2k
	table    []float32 // l phases × 2k taps, or nil when dense is used
	dense    []float32 // h(τ) for τ = i/denseSteps, i = 0..k·denseSteps
	scratch  []float32

	buf   []float32 // input history; buf[0] has absolute index base
	base  int64
	nIn   int64 // input samples accepted since start (or last Flush)
	ip    int64 // output j's time is ip + phase/l
	phase int64
	nOut  int64
}

// NewResampler returns a streaming resampler; rates must lie in
// MinSampleRate–MaxSampleRate.
func NewResampler(from, to int) (*Resampler, error) {
	for _, r := range []int{from, to} {
		if r < MinSampleRate || r > MaxSampleRate {
			return nil, fmt.Errorf("audio: resample: rate %d Hz outside %d–%d: %w", r, MinSampleRate, MaxSampleRate, ErrUnsupported)
		}
	}
	g := gcd(from, to)
	r := &Resampler{from: from, to: to, l: int64(to / g), m: int64(from / g)}
	if from == to {
		return r, nil
	}
	lower := float64(min(from, to))
	cutoff := 0.5 * (1 + passFraction) / 2 * lower / float64(from) // cycles per input sample
	transition := 0.5 * (1 - passFraction) * lower / float64(from)
	beta := 0.1102 * (stopAttenuationDB - 8.7)
	length := (stopAttenuationDB - 8) / (2.285 * 2 * math.Pi * transition)
	r.k = int(math.Ceil(length/2)) + 1
	h := func(tau float64) float32 { return float32(kernel(tau, cutoff, beta, float64(r.k))) }
	taps := 2 * r.k
	if r.l*int64(taps) <= maxPolyphaseTable {
		r.table = make([]float32, int(r.l)*taps)
		for p := range int(r.l) {
			frac := float64(p) / float64(r.l)
			for kk := range taps {
				r.table[p*taps+kk] = h(frac + float64(r.k-1-kk))
			}
		}
	} else {
		r.dense = make([]float32, r.k*denseSteps+2)
		for i := range r.dense {
			r.dense[i] = h(float64(i) / denseSteps)
		}
		r.scratch = make([]float32, taps)
	}
	r.reset()
	return r, nil
}

// reset starts a new stream: k zeros of history stand for the silence
// before the first sample.
func (r *Resampler) reset() {
	r.buf = append(r.buf[:0], make([]float32, r.k)...)
	r.base = -int64(r.k)
	r.nIn, r.ip, r.phase, r.nOut = 0, 0, 0, 0
}

// kernel is the Kaiser-windowed sinc low-pass with the given cutoff (cycles
// per sample) and half-width k, normalised to unit DC gain.
func kernel(tau, cutoff, beta, k float64) float64 {
	if math.Abs(tau) >= k {
		return 0
	}
	x := 2 * cutoff * tau
	s := 1.0
	if x != 0 {
		s = math.Sin(math.Pi*x) / (math.Pi * x)
	}
	w := tau / k
	return 2 * cutoff * s * besselI0(beta*math.Sqrt(1-w*w)) / besselI0(beta)
}

// besselI0 is the modified Bessel function of the first kind, order 0.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for i := 1; i < 500; i++ {
		term *= (x / (2 * float64(i))) * (x / (2 * float64(i)))
		sum += term
		if term < sum*1e-16 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// coefs returns the 2k taps for the current output phase.
func (r *Resampler) coefs() []float32 {
	taps := 2 * r.k
	if r.table != nil {
		return r.table[int(r.phase)*taps : int(r.phase+1)*taps]
	}
	frac := float64(r.phase) / float64(r.l)
	for kk := range taps {
		pos := math.Abs(frac+float64(r.k-1-kk)) * denseSteps
		i := int(pos)
		if i+1 >= len(r.dense) {
			r.scratch[kk] = 0
			continue
		}
		f := float32(pos - float64(i))
		r.scratch[kk] = r.dense[i] + f*(r.dense[i+1]-r.dense[i])
	}
	return r.scratch
}

// Process accepts the next chunk of input and returns the output samples
// that are now fully determined; the rest wait for more input or Flush.
func (r *Resampler) Process(in []float32) []float32 {
	if r.from == r.to {
		return append([]float32(nil), in...)
	}
	r.buf = append(r.buf, in...)
	r.nIn += int64(len(in))
	return r.emit(r.nIn, nil)
}

// Flush returns the remaining output, treating the input as followed by
// silence, and resets the Resampler for a new stream.
func (r *Resampler) Flush() []float32 {
	if r.from == r.to {
		return nil
	}
	r.buf = append(r.buf, make([]float32, 2*r.k)...)
	total := (r.nIn*r.l + r.m - 1) / r.m // ceil(nIn·to/from)
	out := r.emit(r.nIn+int64(2*r.k), &total)
	r.reset()
	return out
}

// emit produces outputs whose whole window lies below index avail (and, when
// limit is set, while fewer than *limit outputs have been made).
func (r *Resampler) emit(avail int64, limit *int64) []float32 {
	k := int64(r.k)
	var out []float32
	if n := (avail-k-r.ip)*r.l/r.m + 1; n > 0 {
		out = make([]float32, 0, n)
	}
	for r.ip+k < avail && (limit == nil || r.nOut < *limit) {
		start := int(r.ip - k + 1 - r.base)
		out = append(out, dot(r.buf[start:start+2*r.k], r.coefs()))
		r.nOut++
		r.phase += r.m
		r.ip += r.phase / r.l
		r.phase %= r.l
	}
	// Drop history no future output can reach; copy only when the dead
	// prefix dominates, so trimming stays amortised O(1) per sample.
	if dead := int(r.ip - k + 1 - r.base); dead > 0 && dead > len(r.buf)/2 {
		dead = min(dead, len(r.buf))
		n := copy(r.buf, r.buf[dead:])
		r.buf = r.buf[:n]
		r.base += int64(dead)
	}
	return out
}

func dot(x, c []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(c); i += 4 {
		s0 += x[i] * c[i]
		s1 += x[i+1] * c[i+1]
		s2 += x[i+2] * c[i+2]
		s3 += x[i+3] * c[i+3]
	}
	for ; i < len(c); i++ {
		s0 += x[i] * c[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Resample converts mono samples from one rate to another in one call. The
// output has ceil(len·to/from) samples. When from == to it returns a copy.
func Resample(samples []float32, from, to int) ([]float32, error) {
	r, err := NewResampler(from, to)
	if err != nil {
		return nil, err
	}
	out := r.Process(samples)
	return append(out, r.Flush()...), nil
}

// Prepare is what engines want: the clip mixed to mono and resampled to
// rate. Mono input already at rate is returned without copying.
func Prepare(c Clip, rate int) ([]float32, error) {
	if c.Channels < 1 || c.SampleRate <= 0 {
		return nil, fmt.Errorf("audio: prepare: clip of %d Hz × %d channels: %w", c.SampleRate, c.Channels, ErrCorrupt)
	}
	mono := c.Mono()
	if c.SampleRate == rate {
		return mono, nil
	}
	return Resample(mono, c.SampleRate, rate)
}
