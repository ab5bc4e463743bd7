package dgtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	dgrest "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/listen/v1/rest/interfaces"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
)

// maxFile bounds a posted recording (the double serves tests only).
const maxFile = 64 << 20

// file answers the pre-recorded POST /v1/listen: a WAV (or any format
// package audio decodes) at the engine's rate, transcribed by feeding the
// local engine one stream as fast as it goes.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	clip, err := audio.Decode(r.Body, audio.Limits{MaxBytes: maxFile})
	if err != nil || clip.Channels != 1 || clip.SampleRate != s.rec.SampleRate() {
		refuse(w, http.StatusBadRequest)
		return
	}
	// A stream transcriber over the shared recognizer; it is not closed,
	// since closing it would close the recognizer.
	files := speech.StreamTranscriber(s.rec)
	opts := speech.TranscribeOptions{Hotwords: append(r.URL.Query()["keyterm"], r.URL.Query()["keywords"]...)}
	tr, err := files.Transcribe(r.Context(), clip.Samples, opts)
	if errors.Is(err, speech.ErrUnsupported) {
		tr, err = files.Transcribe(r.Context(), clip.Samples, speech.TranscribeOptions{})
	}
	if err != nil {
		refuse(w, http.StatusServiceUnavailable)
		return
	}
	if fault, _ := s.state(); fault == FaultStall {
		<-r.Context().Done()
		return
	}
	res := &dgrest.Result{Channels: []dgrest.Channel{{Alternatives: []dgrest.Alternative{{Transcript: tr.Text}}}}}
	for _, seg := range tr.Segments {
		u := dgrest.Utterance{Start: round(seg.Start.Seconds()), End: round(seg.End.Seconds()),
			Confidence: round(float64(seg.Confidence)), Transcript: seg.Text}
		for _, wd := range seg.Words {
			u.Words = append(u.Words, dgrest.Word{Word: wd.Text, PunctuatedWord: wd.Text, Start: round(wd.Start.Seconds()),
				End: round(wd.End.Seconds()), Confidence: round(float64(wd.Confidence))})
		}
		res.Utterances = append(res.Utterances, u)
	}
	b, _ := json.Marshal(dgrest.PreRecordedResponse{Results: res, Metadata: &dgrest.Metadata{RequestID: "dgtest",
		Created: time.Now().UTC().Format(time.RFC3339), Duration: round(tr.Duration.Seconds()), Channels: 1, Models: []string{"dgtest"}}})
	if fault, _ := s.state(); fault == FaultMalformed {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
