package speaker

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
)

// Requirements an enrolment recording must meet. Zero fields take the
// defaults in brackets.
type Requirements struct {
	MinSpeech   time.Duration // speech the VAD found [8 s]
	MaxClipped  float64       // clipped fraction of samples [0.001]
	MinSNR      float64       // estimated speech-to-noise ratio, dB [15]
	MinCoverage float64       // speech / duration [0.4]
}

func (r Requirements) withDefaults() Requirements {
	if r.MinSpeech == 0 {
		r.MinSpeech = 8 * time.Second
	}
	if r.MaxClipped == 0 {
		r.MaxClipped = 0.001
	}
	if r.MinSNR == 0 {
		r.MinSNR = 15
	}
	if r.MinCoverage == 0 {
		r.MinCoverage = 0.4
	}
	return r
}

// Quality is the verdict on an enrolment recording. Problems is empty when
// it may be used; each entry is one sentence a person can act on.
type Quality struct {
	Duration    time.Duration `json:"-"`
	Speech      time.Duration `json:"-"`
	DurationS   float64       `json:"duration_s"`
	SpeechS     float64       `json:"speech_s"`
	Coverage    float64       `json:"coverage"`
	ClippedFrac float64       `json:"clipped_fraction"`
	SNR         float64       `json:"snr_db"`
	Problems    []string      `json:"problems,omitempty"`
}

// OK reports whether the recording may be enrolled.
func (q Quality) OK() bool { return len(q.Problems) == 0 }

// CheckEnrolment judges samples (mono at rate) of which the VAD found
// speech seconds of speech.
func CheckEnrolment(samples []float32, rate int, speech time.Duration, req Requirements) Quality {
	req = req.withDefaults()
	lv := audio.Analyze(samples, rate)
	q := Quality{Duration: lv.Duration, Speech: speech, ClippedFrac: lv.ClippedFrac, SNR: EstimateSNR(samples, rate)}
	q.DurationS, q.SpeechS = lv.Duration.Seconds(), speech.Seconds()
	if lv.Duration > 0 {
		q.Coverage = float64(speech) / float64(lv.Duration)
	}
	if speech < req.MinSpeech {
		q.Problems = append(q.Problems, fmt.Sprintf("only %.1f s of speech; at least %.0f s is needed — keep reading the script", speech.Seconds(), req.MinSpeech.Seconds()))
	}
	if q.Coverage < req.MinCoverage && lv.Duration > 0 {
		q.Problems = append(q.Problems, fmt.Sprintf("speech fills %.0f%% of the recording; speak more continuously", 100*q.Coverage))
	}
	if q.ClippedFrac > req.MaxClipped {
		q.Problems = append(q.Problems, "the recording clips; move back from the microphone or lower its gain")
	}
	if q.SNR < req.MinSNR {
		q.Problems = append(q.Problems, fmt.Sprintf("too much background noise (about %.0f dB speech-to-noise; %.0f dB needed); find a quieter place", q.SNR, req.MinSNR))
	}
	return q
}

// EstimateSNR estimates the speech-to-noise ratio in dB from the spread of
// 20 ms frame energies: the loud frames (90th percentile) are speech, the
// quiet ones (10th percentile) the noise floor. Digital silence as the
// floor gives +Inf; no frames gives 0.
func EstimateSNR(samples []float32, rate int) float64 {
	frame := max(rate/50, 1)
	var energies []float64
	for i := 0; i+frame <= len(samples); i += frame {
		var e float64
		for _, s := range samples[i : i+frame] {
			e += float64(s) * float64(s)
		}
		energies = append(energies, e/float64(frame))
	}
	if len(energies) == 0 {
		return 0
	}
	slices.Sort(energies)
	noise := energies[len(energies)/10]
	signal := energies[len(energies)*9/10]
	if signal == 0 {
		return 0
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(signal/noise)
}
