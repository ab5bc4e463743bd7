package deepgram

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// The parts of Deepgram's messages Izwi reads (its published live and
// pre-recorded references; package listen writes the same shapes as a
// server). Times are seconds from the start of the stream or file.

// Client control messages (text frames).
var (
	msgKeepAlive   = []byte(`{"type":"KeepAlive"}`)
	msgFinalize    = []byte(`{"type":"Finalize"}`)
	msgCloseStream = []byte(`{"type":"CloseStream"}`)
)

type wireWord struct {
	Word       string  `json:"word"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float64 `json:"confidence"`
}

type wireAlternative struct {
	Transcript string     `json:"transcript"`
	Confidence float64    `json:"confidence"`
	Words      []wireWord `json:"words"`
}

// liveMessage is a server message on the live socket; Type says which
// (Results, Metadata, UtteranceEnd, SpeechStarted, Error). Only Results
// are decoded further.
type liveMessage struct {
	Type         string  `json:"type"`
	Start        float64 `json:"start"`
	Duration     float64 `json:"duration"`
	IsFinal      bool    `json:"is_final"`
	SpeechFinal  bool    `json:"speech_final"`
	FromFinalize bool    `json:"from_finalize"`
	Channel      struct {
		Alternatives []wireAlternative `json:"alternatives"`
	} `json:"channel"`
}

// fileResponse is the pre-recorded answer (utterances=true).
type fileResponse struct {
	Metadata struct {
		Duration float64 `json:"duration"`
	} `json:"metadata"`
	Results struct {
		Channels []struct {
			Alternatives []wireAlternative `json:"alternatives"`
		} `json:"channels"`
		Utterances []struct {
			Start      float64    `json:"start"`
			End        float64    `json:"end"`
			Confidence float64    `json:"confidence"`
			Transcript string     `json:"transcript"`
			Words      []wireWord `json:"words"`
		} `json:"utterances"`
	} `json:"results"`
}

// parseLive decodes one server text message. Anything that is not a JSON
// object with a type, or whose times are not finite and non-negative, is
// malformed.
func parseLive(b []byte) (liveMessage, error) {
	var m liveMessage
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return m, fmt.Errorf("malformed message: %w", err)
	}
	if head.Type == "" {
		return m, fmt.Errorf("malformed message: no type")
	}
	if head.Type != "Results" { // other types are read for their type only
		m.Type = head.Type
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("malformed message: %w", err)
	}
	if !okTime(m.Start) || !okTime(m.Duration) {
		return m, fmt.Errorf("malformed message: bad times")
	}
	return m, nil
}

func okTime(v float64) bool { return v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v) && v < 1e7 }

func dur(secs float64) time.Duration {
	if !okTime(secs) {
		return 0
	}
	return time.Duration(math.Round(secs * float64(time.Second)))
}

func conf(v float64) float32 {
	if v != v || v < 0 {
		return 0
	}
	return float32(min(v, 1))
}

// words converts wire words; ok is false when any word is malformed.
func words(ws []wireWord) ([]speech.Word, bool) {
	out := make([]speech.Word, 0, len(ws))
	for _, w := range ws {
		if !okTime(w.Start) || !okTime(w.End) || w.End < w.Start {
			return nil, false
		}
		out = append(out, speech.Word{Text: w.Word, Start: dur(w.Start), End: dur(w.End), Confidence: conf(w.Confidence)})
	}
	return out, true
}

// result converts a Results message into a speech.Result for segment seg.
func (m liveMessage) result(seg int) (speech.Result, bool) {
	r := speech.Result{Segment: seg, Start: dur(m.Start), End: dur(m.Start + m.Duration), Final: m.IsFinal}
	if len(m.Channel.Alternatives) == 0 {
		return r, true
	}
	alt := m.Channel.Alternatives[0]
	ws, ok := words(alt.Words)
	if !ok {
		return r, false
	}
	r.Text, r.Words, r.Confidence = strings.TrimSpace(alt.Transcript), ws, conf(alt.Confidence)
	return r, true
}
