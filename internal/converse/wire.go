package converse

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"
)

// Limits of the first message.
const (
	minSampleRate = 8000
	maxSampleRate = 48000
	maxSystem     = 8 << 10
	maxModel      = 256
)

// Config is the client's first message:
//
//	{"type":"config","sample_rate":16000,"model":"<chat model>","voice":"<tts voice>","system":"..."}
//
// sample_rate is the rate of the PCM16 LE mono audio the client sends;
// model is required unless the server has a default; voice and system are
// optional.
type Config struct {
	Type       string `json:"type"`
	SampleRate int    `json:"sample_rate"`
	Model      string `json:"model"`
	Voice      string `json:"voice"`
	System     string `json:"system"`
}

// errConfig is a first message refused; its text is the close reason
// (WebSocket reasons are at most 123 bytes).
type errConfig string

func (e errConfig) Error() string { return string(e) }

// parseConfig validates the first message; rate (non-zero on a WebRTC
// call) is the audio's rate, whatever sample_rate says.
func parseConfig(b []byte, rate int) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&c); err != nil {
		return c, errConfig("the first message must be a JSON config object")
	}
	if dec.More() {
		return c, errConfig("data after the config object")
	}
	if rate > 0 {
		c.SampleRate = rate
	}
	switch {
	case c.Type != "config":
		return c, errConfig(`the first message must have "type":"config"`)
	case c.SampleRate < minSampleRate || c.SampleRate > maxSampleRate:
		return c, errConfig("sample_rate must be 8000..48000")
	case len(c.Model) > maxModel || strings.ContainsFunc(c.Model, isControl):
		return c, errConfig("model is not a model name")
	case len(c.Voice) > 64 || strings.ContainsFunc(c.Voice, isControl):
		return c, errConfig("voice is not a voice id")
	case len(c.System) > maxSystem || !utf8.ValidString(c.System):
		return c, errConfig("system must be UTF-8 text of at most 8 KiB")
	}
	return c, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// control is a later text message from the client.
type control struct {
	Type string `json:"type"`
}

// Client control types.
const (
	ctlStop   = "stop"   // end the conversation (normal closure)
	ctlCancel = "cancel" // stop the reply now, as a barge-in would
)

// Server event types (JSON text messages). Reply audio goes out as binary
// PCM16 LE mono messages at the rate ready and audio.start declare.
const (
	evReady      = "ready"
	evTranscript = "transcript"
	evDelta      = "response.delta"
	evDone       = "response.done"
	evAudioStart = "audio.start"
	evAudioDone  = "audio.done"
	evMetrics    = "turn.metrics"
	evBargeIn    = "barge_in"
	evError      = "error"
)

// Event is every server text message; fields beyond type are set only for
// the types that use them.
type Event struct {
	Type string `json:"type"`
	Turn int    `json:"turn,omitempty"`

	// ready
	SessionID        string `json:"session_id,omitempty"`
	InputSampleRate  int    `json:"input_sample_rate,omitempty"`
	OutputSampleRate int    `json:"output_sample_rate,omitempty"` // ready, audio.start

	// transcript, response.delta, response.done
	Text  string `json:"text,omitempty"`
	Final *bool  `json:"final,omitempty"`

	// response.done
	Usage *Usage `json:"usage,omitempty"`
	// response.done, audio.done: the reply stopped early (barge-in).
	Interrupted bool `json:"interrupted,omitempty"`

	// turn.metrics (milliseconds)
	Metrics *Metrics `json:"metrics,omitempty"`

	// error
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Usage is the chat tokens a turn cost.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	Estimated        bool  `json:"estimated,omitempty"`
}

// Metrics are one turn's latencies in milliseconds.
type Metrics struct {
	// EndOfSpeechToFirstAudio: from the arrival of the audio holding the
	// user's last word to the first byte of reply audio sent. This is the
	// latency a user feels (endpointing wait included).
	EndOfSpeechToFirstAudio float64 `json:"end_of_speech_to_first_audio_ms"`
	// EndpointToFirstAudio: from the moment Izwi decided the user had
	// finished to the first reply audio byte (chat and synthesis only).
	EndpointToFirstAudio float64 `json:"endpoint_to_first_audio_ms"`
	// ChatFirstToken: from the endpoint to the first text from the chat
	// upstream.
	ChatFirstToken float64 `json:"chat_first_token_ms"`
	// AudioSeconds is the reply audio sent.
	AudioSeconds float64 `json:"audio_seconds"`
}

func boolp(b bool) *bool { return &b }

// pcm16 encodes samples as PCM16 LE, clipping to [-1, 1].
func pcm16(dst []byte, samples []float32) []byte {
	for _, s := range samples {
		v := math.Round(float64(max(-1, min(1, s))) * 32767)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(v)))
	}
	return dst
}
