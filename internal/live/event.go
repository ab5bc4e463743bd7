package live

import (
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// EventType names what a caption-feed Event carries.
type EventType string

const (
	// TypeCaption: a recognition result (partial or final) for one segment.
	// A partial may be replaced by later events with the same Segment; a
	// final never is.
	TypeCaption EventType = "caption"
	// TypeState: the session's state or label changed (State, Label,
	// StopReason are set).
	TypeState EventType = "state"
	// TypeSpeechStarted: the VAD heard speech begin at At (stream seconds).
	TypeSpeechStarted EventType = "speech_started"
	// TypeUtteranceEnd: speech stopped; At is the end of the last word.
	TypeUtteranceEnd EventType = "utterance_end"
	// TypeEngine: recognition moved to another engine of the role's chain
	// at At (Engine, EngineFrom and Reason are set). Viewers may show it;
	// the captions keep flowing.
	TypeEngine EventType = "engine"
)

// Event is one message of a session's caption feed: what the pipeline
// publishes on the bus, what viewer WebSockets and SSE streams send (one
// JSON object per message), and what catch-up replays. Fields beyond the
// first four are set only for the types that use them.
//
// Times: Start, End and At are seconds of session audio since the session
// went live (monotonic within a session); Time is the wall clock when the
// event was published (for latency measurements).
type Event struct {
	Type      EventType `json:"type"`
	SessionID string    `json:"session_id"`
	// Seq numbers a session's events from 1, without gaps, in publication
	// order. A viewer that reconnects asks for the events after the last
	// Seq it saw.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`

	// TypeCaption.
	Segment           int     `json:"segment,omitempty"`
	Final             bool    `json:"final"`
	Text              string  `json:"text,omitempty"`
	Start             float64 `json:"start,omitempty"`
	End               float64 `json:"end,omitempty"`
	Confidence        float32 `json:"confidence,omitempty"`
	Words             []Word  `json:"words,omitempty"`
	Speaker           string  `json:"speaker,omitempty"` // filled by the identifier (issue 6)
	SpeakerConfidence float32 `json:"speaker_confidence,omitempty"`
	// Lang is set on a translated feed's captions (?lang=): the language
	// Text is in, which is the source language when translation failed
	// and the source text stands in. Words, Start and End stay the source
	// words' times.
	Lang string `json:"lang,omitempty"`
	// Engine names the engine that recognised the caption (TypeCaption)
	// or now serves the session (TypeEngine).
	Engine string `json:"engine,omitempty"`

	// TypeEngine: the engine left and why ("stall", "reset", "tls",
	// "auth", "rate_limited", "server_error", "recovered").
	EngineFrom string `json:"engine_from,omitempty"`
	Reason     string `json:"reason,omitempty"`

	// TypeState.
	State      State  `json:"state,omitempty"`
	Label      string `json:"label,omitempty"`
	StopReason string `json:"stop_reason,omitempty"`

	// TypeSpeechStarted, TypeUtteranceEnd.
	At float64 `json:"at,omitempty"`
}

// Word is one recognised word of a caption, times in stream seconds.
type Word struct {
	Word       string  `json:"word"`
	Start      float64 `json:"start"`
	End        float64 `json:"end"`
	Confidence float32 `json:"confidence"`
}

// CaptionEvent turns an engine result into a caption Event (Seq, SessionID
// and Time are the publisher's to set). offset is added to every time: the
// stream time at which the recognizer stream started.
func CaptionEvent(r speech.Result, offset time.Duration) Event {
	e := Event{Type: TypeCaption, Segment: r.Segment, Final: r.Final, Text: r.Text,
		Start: seconds(offset + r.Start), End: seconds(offset + r.End), Confidence: r.Confidence, Speaker: r.Speaker, Engine: r.Engine}
	if len(r.Words) > 0 {
		e.Words = make([]Word, len(r.Words))
		for i, w := range r.Words {
			e.Words[i] = Word{Word: w.Text, Start: seconds(offset + w.Start), End: seconds(offset + w.End), Confidence: w.Confidence}
		}
	}
	return e
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// Subjects name a session's bus subjects. They are the same whether the
// broker is embedded or an external cluster, so a split deployment (ingest
// on one node, recognition on another, viewers on many) needs no change.
//
//   - izwi.live.<id>.audio    PCM16 LE mono frames at the recognizer's rate
//     (core NATS, never JetStream: audio is never stored)
//   - izwi.live.<id>.events   JSON Events, as viewers receive them
//   - izwi.live.<id>.history  request/reply: {"after": seq} → the events
//     after seq that the session's pipeline still holds (catch-up)
//   - izwi.live.<id>.control  request/reply: commands to the pipeline owner
type Subjects struct{ Audio, Events, History, Control string }

// SubjectsFor returns the subjects of session id (a ValidID).
func SubjectsFor(id string) Subjects {
	p := "izwi.live." + id + "."
	return Subjects{Audio: p + "audio", Events: p + "events", History: p + "history", Control: p + "control"}
}
