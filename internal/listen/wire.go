package listen

import (
	"math"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// The Deepgram live API's messages, as Izwi sends and reads them. Field
// names and shapes follow Deepgram's published streaming reference; times
// are seconds from the start of the stream.

// Server message types.
const (
	typeResults       = "Results"
	typeUtteranceEnd  = "UtteranceEnd"
	typeSpeechStarted = "SpeechStarted"
	typeMetadata      = "Metadata"
)

// Client control message types (text frames).
const (
	msgKeepAlive   = "KeepAlive"
	msgFinalize    = "Finalize"
	msgCloseStream = "CloseStream"
)

// control is a client text message.
type control struct {
	Type string `json:"type"`
}

// ModelInfo describes the engine behind the results.
type ModelInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch"`
}

// ResultMetadata rides on every Results message.
type ResultMetadata struct {
	RequestID string            `json:"request_id"`
	ModelInfo ModelInfo         `json:"model_info"`
	ModelUUID string            `json:"model_uuid"`
	Extra     map[string]string `json:"extra,omitempty"`
}

// WireWord is one word of an alternative.
type WireWord struct {
	Word           string  `json:"word"`
	Start          float64 `json:"start"`
	End            float64 `json:"end"`
	Confidence     float64 `json:"confidence"`
	PunctuatedWord string  `json:"punctuated_word"`
}

// Alternative is one transcript hypothesis (Izwi sends exactly one).
type Alternative struct {
	Transcript string     `json:"transcript"`
	Confidence float64    `json:"confidence"`
	Words      []WireWord `json:"words"`
}

// Channel holds a channel's alternatives.
type Channel struct {
	Alternatives []Alternative `json:"alternatives"`
}

// Results is a transcript for a span of the stream.
type Results struct {
	Type         string         `json:"type"`
	ChannelIndex []int          `json:"channel_index"`
	Duration     float64        `json:"duration"`
	Start        float64        `json:"start"`
	IsFinal      bool           `json:"is_final"`
	SpeechFinal  bool           `json:"speech_final"`
	FromFinalize bool           `json:"from_finalize"`
	Channel      Channel        `json:"channel"`
	Metadata     ResultMetadata `json:"metadata"`
}

// UtteranceEnd says the gap after the last word reached utterance_end_ms.
type UtteranceEnd struct {
	Type        string  `json:"type"`
	Channel     []int   `json:"channel"`
	LastWordEnd float64 `json:"last_word_end"`
}

// SpeechStarted says the VAD heard speech begin at Timestamp.
type SpeechStarted struct {
	Type      string  `json:"type"`
	Channel   []int   `json:"channel"`
	Timestamp float64 `json:"timestamp"`
}

// Metadata is the last message of a stream (and the metadata of a file
// response): what was processed, by which model.
type Metadata struct {
	Type           string               `json:"type,omitempty"`
	TransactionKey string               `json:"transaction_key"`
	RequestID      string               `json:"request_id"`
	SHA256         string               `json:"sha256"`
	Created        string               `json:"created"`
	Duration       float64              `json:"duration"`
	Channels       int                  `json:"channels"`
	Models         []string             `json:"models"`
	ModelInfo      map[string]ModelInfo `json:"model_info"`
	Warnings       []Warning            `json:"warnings,omitempty"`
	Extra          map[string]string    `json:"extra,omitempty"`
}

// Warning names a parameter that was accepted but changes nothing.
type Warning struct {
	Parameter string `json:"parameter"`
	Type      string `json:"type"`
	Message   string `json:"message"`
}

// warnings names what a request asked for and did not get: parameters
// accepted but not applied, and a model other than the one serving it.
func warnings(p Params, served string) []Warning {
	var out []Warning
	if p.Model != "" && p.Model != served {
		out = append(out, Warning{Parameter: "model", Type: "unsupported",
			Message: "model " + p.Model + " is not available here; " + served + " answered"})
	}
	for _, name := range p.Ignored {
		out = append(out, Warning{Parameter: name, Type: "unsupported",
			Message: name + " is accepted but not applied by this server"})
	}
	return out
}

// wholeStream is channel_index for a single (downmixed) channel: Deepgram
// sends [channel, of channels].
func wholeStream() []int { return []int{0, 1} }

// resultsFrom turns a recognition result into a Results message; format
// applies the punctuate/smart_format rules to the transcript and fills
// punctuated_word.
func resultsFrom(r speech.Result, md ResultMetadata, format bool) Results {
	words := make([]WireWord, len(r.Words))
	texts := make([]string, len(r.Words))
	for i, w := range r.Words {
		texts[i] = w.Text
		words[i] = WireWord{Word: w.Text, Start: secs(w.Start), End: secs(w.End),
			Confidence: round(float64(w.Confidence)), PunctuatedWord: w.Text}
	}
	transcript := r.Text
	if format {
		punct := Punctuated(texts)
		for i := range words {
			words[i].PunctuatedWord = punct[i]
		}
		transcript = FormatTranscript(r.Text)
	}
	start, end := secs(r.Start), secs(r.End)
	return Results{
		Type: typeResults, ChannelIndex: wholeStream(), Start: start, Duration: round(max(end-start, 0)),
		IsFinal:  r.Final,
		Channel:  Channel{Alternatives: []Alternative{{Transcript: transcript, Confidence: round(float64(r.Confidence)), Words: words}}},
		Metadata: md,
	}
}

// secs is d in seconds, to the millisecond.
func secs(d time.Duration) float64 { return round(d.Seconds()) }

// round keeps three decimals (milliseconds), as Deepgram's times do.
func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}
