package audio

import (
	"fmt"
	"math"
	"time"
)

// Thresholds used by Analyze and Problems.
const (
	clipLevel     = 0.999 // |x| at or above counts toward clipping...
	clipRun       = 3     // ...when it lasts this many samples in a row (a lone full-scale peak is fine)
	silenceDBFS   = -60.0 // a 10 ms frame quieter than this is silent
	quietDBFS     = -40.0 // overall RMS below this is "very quiet"
	clipProblem   = 0.001 // clipped fraction worth reporting
	dcProblem     = 0.05  // DC offset worth reporting
	mostlySilence = 0.95  // silent fraction worth reporting
)

// Levels summarises a mono signal. dBFS values are relative to full scale
// (a full-scale sine has RMS -3 dBFS); math.Inf(-1) means digital silence.
type Levels struct {
	Duration       time.Duration
	Peak           float64 // max |x|, linear
	PeakDBFS       float64
	RMSDBFS        float64
	ClippedFrac    float64 // fraction of samples in runs of ≥ 3 at |x| ≥ 0.999
	SilentFrac     float64 // fraction of 10 ms frames below -60 dBFS
	DCOffset       float64 // mean sample value
	SampleCount    int
	SilentFrames   int
	AnalyzedFrames int
}

func dbfs(x float64) float64 {
	if x <= 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(x)
}

// Analyze measures peak, RMS, clipping, silence and DC offset of mono
// samples at rate Hz (rate sets the 10 ms frame used for silence).
func Analyze(samples []float32, rate int) Levels {
	l := Levels{SampleCount: len(samples)}
	if rate > 0 {
		l.Duration = time.Duration(int64(len(samples)) * int64(time.Second) / int64(rate))
	}
	if len(samples) == 0 {
		l.PeakDBFS, l.RMSDBFS = math.Inf(-1), math.Inf(-1)
		return l
	}
	frame := max(rate/100, 1)
	var sum, sumSq, frameSq float64
	clipped, run := 0, 0
	for i, s := range samples {
		x := float64(s)
		a := math.Abs(x)
		l.Peak = math.Max(l.Peak, a)
		sum += x
		sumSq += x * x
		frameSq += x * x
		if a >= clipLevel {
			run++
			if run == clipRun {
				clipped += clipRun
			} else if run > clipRun {
				clipped++
			}
		} else {
			run = 0
		}
		if (i+1)%frame == 0 || i == len(samples)-1 {
			n := (i % frame) + 1
			l.AnalyzedFrames++
			if dbfs(math.Sqrt(frameSq/float64(n))) < silenceDBFS {
				l.SilentFrames++
			}
			frameSq = 0
		}
	}
	n := float64(len(samples))
	l.PeakDBFS = dbfs(l.Peak)
	l.RMSDBFS = dbfs(math.Sqrt(sumSq / n))
	l.ClippedFrac = float64(clipped) / n
	l.SilentFrac = float64(l.SilentFrames) / float64(l.AnalyzedFrames)
	l.DCOffset = sum / n
	return l
}

// Problems describes, in sentences fit for a user, what is wrong with the
// audio; none means it looks usable.
func (l Levels) Problems() []string {
	var out []string
	switch {
	case l.SampleCount == 0:
		return []string{"audio is empty"}
	case l.SilentFrac >= 1 || l.RMSDBFS < silenceDBFS:
		return []string{"audio is silent"}
	case l.SilentFrac >= mostlySilence:
		out = append(out, fmt.Sprintf("%.0f%% of the audio is silence", 100*l.SilentFrac))
	case l.RMSDBFS < quietDBFS:
		out = append(out, fmt.Sprintf("audio is very quiet (%.0f dBFS RMS)", l.RMSDBFS))
	}
	if l.ClippedFrac >= clipProblem {
		out = append(out, fmt.Sprintf("%.1f%% of samples are clipped", 100*l.ClippedFrac))
	}
	if math.Abs(l.DCOffset) >= dcProblem {
		out = append(out, fmt.Sprintf("audio has a DC offset of %+.2f", l.DCOffset))
	}
	return out
}
