package listen

import (
	"math"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/wordfilter"
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

// resultsFrom turns a recognition result into a Results message with the
// request's text options applied (resultText).
func resultsFrom(r speech.Result, md ResultMetadata, p Params) Results {
	words, transcript := resultText(r, p)
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

// resultText applies punctuate/smart_format (internal/textformat: each
// result is one sentence) and the word filters (replace, redact,
// profanity_filter: internal/wordfilter) to a result's words and
// transcript. word carries the filtered word, punctuated_word the
// formatted one; without options the engine's text is passed through.
func resultText(r speech.Result, p Params) ([]WireWord, string) {
	format := p.Punctuate || p.SmartFormat
	raw := make([]wordfilter.Token, len(r.Words))
	for i, w := range r.Words {
		raw[i] = wordfilter.Token{Text: w.Text, Start: w.Start, End: w.End, Confidence: w.Confidence}
	}
	if !format && p.Filter.Empty() {
		return wireWords(raw, raw), r.Text
	}
	plain := p.Filter.Apply(raw)
	shown := p.Filter.Caption(raw, format, true)
	if len(shown) != len(plain) { // cannot happen: both match on the same keys
		plain = shown
	}
	if len(raw) == 0 { // an engine without word times: the text alone
		return []WireWord{}, wordfilter.Join(p.Filter.Caption(wordfilter.Tokens(r.Text), format, true))
	}
	return wireWords(plain, shown), wordfilter.Join(shown)
}

func wireWords(plain, shown []wordfilter.Token) []WireWord {
	words := make([]WireWord, len(plain))
	for i, t := range plain {
		words[i] = WireWord{Word: t.Text, Start: secs(t.Start), End: secs(t.End),
			Confidence: round(float64(t.Confidence)), PunctuatedWord: shown[i].Text}
	}
	return words
}
