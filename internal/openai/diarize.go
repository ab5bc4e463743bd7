package openai

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/transcript"
)

// SpeakerTracker decides who speaks when (speaker.Tracker implements it).
//
// Contract: Accept takes every sample in order at SampleRate with whether
// it is speech; SpeakerAt names the speaker of a stretch already accepted:
// an enrolled person (Known) or an unknown voice clustered as "Speaker N".
type SpeakerTracker interface {
	SampleRate() int
	Accept(ctx context.Context, samples []float32, speech bool) error
	SpeakerAt(start, end time.Duration) speaker.Label
}

var _ SpeakerTracker = (*speaker.Tracker)(nil)

// Limits of OpenAI's known_speaker_names[].
const (
	maxKnownSpeakers = 4
	maxSpeakerName   = 64
)

// diarizedSegment is one segment of diarized_json.
type diarizedSegment struct {
	Type    string  `json:"type"` // "transcript.text.segment"
	ID      string  `json:"id"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
	Speaker string  `json:"speaker"`
}

type diarizedTranscription struct {
	Task     string            `json:"task"`
	Duration float64           `json:"duration"`
	Text     string            `json:"text"`
	Segments []diarizedSegment `json:"segments"`
	Usage    usage             `json:"usage"`
}

// checkDiarization refuses what diarized_json cannot honour before any
// work: no speaker model, a stream, or reference clips (a voiceprint is
// made only at enrolment, with recorded consent).
func (h *Handlers) checkDiarization(req transcriptionRequest) error {
	switch {
	case req.References > 0:
		return &reqError{apierr.CodeUnsupportedOption, "known_speaker_references[] are not taken: Izwi makes a voiceprint only at " +
			"enrolment, with the person's recorded consent (admin console, /speakers); name enrolled people with known_speaker_names[]"}
	case req.Format != "diarized_json" && len(req.SpeakerNames) > 0:
		return bad("known_speaker_names[] apply to response_format=diarized_json")
	case req.Format != "diarized_json":
		return nil
	case h.o.Speakers == nil:
		return &reqError{apierr.CodeUnsupportedOption, "speaker identification is off: no speaker model is installed"}
	case req.Stream:
		return bad("stream is not supported with diarized_json")
	}
	return nil
}

// diarize names the speaker of every segment of t: the tracker hears the
// whole file, each segment's span marked as speech, then is asked who
// spoke over each. Enrolled people are named only when their consent
// stands (the tracker's gallery); with known_speaker_names[] only those
// people are looked for, and everyone else is an unknown "Speaker N".
func (h *Handlers) diarize(ctx context.Context, clip audio.Clip, t speech.Transcript, names []string) ([]diarizedSegment, error) {
	tr, err := h.o.Speakers(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("openai: speakers: %w", err)
	}
	rate := tr.SampleRate()
	samples, err := audio.Prepare(clip, rate)
	if err != nil {
		return nil, err
	}
	inSpeech := func(at time.Duration) bool {
		for _, s := range t.Segments {
			if at >= s.Start && at < s.End {
				return true
			}
		}
		return false
	}
	step := rate / 10
	for off := 0; off < len(samples); off += step {
		end := min(off+step, len(samples))
		if err := tr.Accept(ctx, samples[off:end], inSpeech(speech.SamplesToDuration(off, rate))); err != nil {
			return nil, fmt.Errorf("openai: speakers: %w", err)
		}
	}
	doc := transcript.ToDoc(t)
	out := make([]diarizedSegment, 0, len(doc.Segments))
	for i, s := range doc.Segments {
		who := tr.SpeakerAt(t.Segments[i].Start, t.Segments[i].End).Name
		if who == "" {
			who = "unknown"
		}
		out = append(out, diarizedSegment{Type: "transcript.text.segment", ID: fmt.Sprintf("seg_%d", i),
			Start: s.Start, End: s.End, Text: s.Text, Speaker: who})
	}
	return out, nil
}

// writeDiarized answers diarized_json.
func writeDiarized(w http.ResponseWriter, t speech.Transcript, segs []diarizedSegment) {
	doc := transcript.ToDoc(t)
	apierr.JSON(w, http.StatusOK, diarizedTranscription{Task: "transcribe", Duration: doc.Duration, Text: doc.Text,
		Segments: segs, Usage: usageOf(t.Duration)})
}
