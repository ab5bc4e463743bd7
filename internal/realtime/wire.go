package realtime

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
)

// This file is the wire: the client events Izwi reads and the server
// events it writes, as OpenAI's Realtime API spells them (GA names, and
// the beta transcription_session.update a few clients still send).

// Client event types.
const (
	ctSessionUpdate       = "session.update"
	ctTranscriptionUpdate = "transcription_session.update" // beta spelling
	ctAppend              = "input_audio_buffer.append"
	ctCommit              = "input_audio_buffer.commit"
	ctClear               = "input_audio_buffer.clear"
	ctItemCreate          = "conversation.item.create"
	ctResponseCreate      = "response.create"
	ctResponseCancel      = "response.cancel"
	ctOutputClear         = "output_audio_buffer.clear" // WebRTC calls
)

// Server event types.
const (
	stSessionCreated        = "session.created"
	stSessionUpdated        = "session.updated"
	stTranscriptionUpdated  = "transcription_session.updated"
	stSpeechStarted         = "input_audio_buffer.speech_started"
	stSpeechStopped         = "input_audio_buffer.speech_stopped"
	stCommitted             = "input_audio_buffer.committed"
	stCleared               = "input_audio_buffer.cleared"
	stTranscriptionDelta    = "conversation.item.input_audio_transcription.delta"
	stTranscriptionComplete = "conversation.item.input_audio_transcription.completed"
	stOutputCleared         = "output_audio_buffer.cleared"
	stError                 = "error"
)

// maxEventID bounds a client's event_id, echoed back in errors.
const maxEventID = 64

// clientEvent is every client message; fields beyond type are read only
// for the types that use them. Unknown fields are ignored, as OpenAI's
// clients send many Izwi has no use for.
type clientEvent struct {
	Type    string         `json:"type"`
	EventID string         `json:"event_id"`
	Audio   string         `json:"audio"`   // input_audio_buffer.append: base64
	Session *sessionConfig `json:"session"` // session.update
	Item    *itemIn        `json:"item"`    // conversation.item.create
}

// itemIn is a conversation item a client adds: a message of text parts.
type itemIn struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

// text is the item's text parts joined, or a refusal.
func (it *itemIn) text() (role, text string, werr *wireError) {
	if it.Type != "message" && it.Type != "" {
		return "", "", &wireError{code: apierr.CodeUnprocessable, param: "item.type", message: "only message items are served"}
	}
	switch it.Role {
	case "user", "system", "assistant":
	default:
		return "", "", badParam("item.role", "role must be user, system or assistant")
	}
	var parts []string
	for _, c := range it.Content {
		switch c.Type {
		case "input_text", "text", "output_text":
			parts = append(parts, c.Text)
		default:
			return "", "", &wireError{code: apierr.CodeUnprocessable, param: "item.content", message: "only text parts can be added to a conversation"}
		}
	}
	text = strings.Join(parts, " ")
	if len(text) > maxInstructions || !utf8.ValidString(text) || text == "" {
		return "", "", badParam("item.content", "text must be 1 byte to 8 KiB of UTF-8")
	}
	return it.Role, text, nil
}

// sessionConfig is the session object of session.update: the GA shape
// (type and audio.input) or the beta transcription session's flat one.
type sessionConfig struct {
	Type  string `json:"type"`
	Audio *struct {
		Input  *audioInput  `json:"input"`
		Output *audioOutput `json:"output"`
	} `json:"audio"`
	// realtime (conversation) sessions
	Model            string   `json:"model"`
	Instructions     *string  `json:"instructions"`
	OutputModalities []string `json:"output_modalities"`
	// beta transcription_session.update
	InputAudioFormat        string             `json:"input_audio_format"`
	InputAudioTranscription *transcriptionConf `json:"input_audio_transcription"`
	TurnDetection           json.RawMessage    `json:"turn_detection"`
}

type audioInput struct {
	Format        *formatConf        `json:"format"`
	Transcription *transcriptionConf `json:"transcription"`
	// TurnDetection: absent keeps the current setting, null turns server
	// VAD off (the client commits), an object sets it.
	TurnDetection json.RawMessage `json:"turn_detection"`
}

type audioOutput struct {
	Format *formatConf `json:"format"`
	Voice  string      `json:"voice"`
}

type formatConf struct {
	Type string `json:"type"`
	Rate int    `json:"rate,omitempty"`
}

type transcriptionConf struct {
	Model    string `json:"model,omitempty"`
	Language string `json:"language,omitempty"`
	Prompt   string `json:"prompt,omitempty"`
}

type turnDetection struct {
	Type              string   `json:"type"`
	SilenceDurationMs *int     `json:"silence_duration_ms,omitempty"`
	PrefixPaddingMs   *int     `json:"prefix_padding_ms,omitempty"`
	Threshold         *float64 `json:"threshold,omitempty"`
	CreateResponse    *bool    `json:"create_response,omitempty"`
}

// wireError is a client event refused: an error event, the session goes on.
type wireError struct {
	code    apierr.Code
	message string
	param   string
}

func badParam(param, msg string) *wireError {
	return &wireError{code: apierr.CodeBadRequest, message: msg, param: param}
}

// parseEvent decodes one client message and checks what every type needs.
func parseEvent(b []byte) (clientEvent, *wireError) {
	var e clientEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return e, &wireError{code: apierr.CodeBadRequest, message: "the event is not a JSON object"}
	}
	if len(e.EventID) > maxEventID || strings.ContainsFunc(e.EventID, isControl) {
		e.EventID = ""
		return e, badParam("event_id", "event_id must be at most 64 printable bytes")
	}
	switch e.Type {
	case ctSessionUpdate, ctTranscriptionUpdate:
		if e.Session == nil {
			return e, badParam("session", "session is required")
		}
	case ctAppend:
		if e.Audio == "" {
			return e, badParam("audio", "audio is required")
		}
	case ctCommit, ctClear, ctResponseCreate, ctResponseCancel, ctOutputClear:
	case ctItemCreate:
		if e.Item == nil {
			return e, badParam("item", "item is required")
		}
	case "":
		return e, badParam("type", "type is required")
	case "conversation.item.delete", "conversation.item.retrieve", "conversation.item.truncate":
		return e, &wireError{code: apierr.CodeUnprocessable, param: "type", message: e.Type + " is not served"}
	default:
		return e, badParam("type", "unknown event type")
	}
	return e, nil
}

// maxInstructions bounds instructions and a text item (8 KiB, as
// /v1/converse's system prompt).
const maxInstructions = 8 << 10

// settings are a session's settings.
type settings struct {
	conversation bool // session.type "realtime": answers through chat and TTS
	chatModel    string
	instructions string
	voice        string
	textOnly     bool // output_modalities ["text"]
	noAutoReply  bool // turn_detection.create_response false

	format   audio.RawFormat
	fmtName  string // audio/pcm, audio/pcmu, audio/pcma
	vad      bool   // server VAD: Izwi decides when a turn ends
	silence  int    // ms of silence that ends a turn (server VAD)
	model    string
	language string
}

func defaultSettings() settings {
	return settings{format: audio.RawFormat{Encoding: audio.EncLinear16, SampleRate: 24000, Channels: 1},
		fmtName: "audio/pcm", vad: true, silence: 500, model: "whisper-1"}
}

// apply merges a session.update into s: a transcription session, or a
// realtime (conversation) one.
func (s settings) apply(c *sessionConfig, beta bool) (settings, *wireError) {
	switch c.Type {
	case "", "transcription":
		if c.Type != "" {
			s.conversation = false
		}
	case "realtime":
		var werr *wireError
		if s, werr = s.withConversation(c); werr != nil {
			return s, werr
		}
	default:
		return s, badParam("session.type", "session.type must be transcription or realtime")
	}
	var (
		format *formatConf
		tr     *transcriptionConf
		td     json.RawMessage
	)
	if c.Audio != nil && c.Audio.Input != nil {
		format, tr, td = c.Audio.Input.Format, c.Audio.Input.Transcription, c.Audio.Input.TurnDetection
	}
	if beta || c.InputAudioFormat != "" || c.InputAudioTranscription != nil || c.TurnDetection != nil {
		if c.InputAudioFormat != "" {
			format = betaFormat(c.InputAudioFormat)
		}
		if c.InputAudioTranscription != nil {
			tr = c.InputAudioTranscription
		}
		if c.TurnDetection != nil {
			td = c.TurnDetection
		}
	}
	var err *wireError
	if format != nil {
		if s, err = s.withFormat(*format); err != nil {
			return s, err
		}
	}
	if tr != nil {
		switch {
		case len(tr.Model) > 128 || strings.ContainsFunc(tr.Model, isControl):
			return s, badParam("session.audio.input.transcription.model", "model is not a model name")
		case len(tr.Language) > 16 || strings.ContainsFunc(tr.Language, isControl):
			return s, badParam("session.audio.input.transcription.language", "language is not a language code")
		}
		if tr.Model != "" {
			s.model = tr.Model
		}
		s.language = tr.Language
	}
	if td != nil {
		if s, err = s.withTurnDetection(td); err != nil {
			return s, err
		}
	}
	return s, nil
}

// betaFormat maps the beta input_audio_format names to GA formats.
func betaFormat(name string) *formatConf {
	switch name {
	case "pcm16":
		return &formatConf{Type: "audio/pcm", Rate: 24000}
	case "g711_ulaw":
		return &formatConf{Type: "audio/pcmu"}
	case "g711_alaw":
		return &formatConf{Type: "audio/pcma"}
	}
	return &formatConf{Type: name}
}

func (s settings) withFormat(f formatConf) (settings, *wireError) {
	switch f.Type {
	case "audio/pcm":
		rate := f.Rate
		if rate == 0 {
			rate = 24000
		}
		if rate < 8000 || rate > 48000 {
			return s, badParam("session.audio.input.format.rate", "rate must be 8000..48000 (OpenAI clients send 24000)")
		}
		s.format = audio.RawFormat{Encoding: audio.EncLinear16, SampleRate: rate, Channels: 1}
	case "audio/pcmu":
		s.format = audio.RawFormat{Encoding: audio.EncMuLaw, SampleRate: 8000, Channels: 1}
	case "audio/pcma":
		s.format = audio.RawFormat{Encoding: audio.EncALaw, SampleRate: 8000, Channels: 1}
	default:
		return s, badParam("session.audio.input.format.type", "format must be audio/pcm, audio/pcmu or audio/pcma")
	}
	s.fmtName = f.Type
	return s, nil
}

func (s settings) withTurnDetection(raw json.RawMessage) (settings, *wireError) {
	if string(raw) == "null" {
		s.vad = false
		return s, nil
	}
	var td turnDetection
	if json.Unmarshal(raw, &td) != nil {
		return s, badParam("session.audio.input.turn_detection", "turn_detection must be an object or null")
	}
	switch td.Type {
	case "server_vad", "semantic_vad", "":
		// semantic_vad has no model here: Izwi ends turns on silence.
	default:
		return s, badParam("session.audio.input.turn_detection.type", "turn_detection.type must be server_vad or semantic_vad")
	}
	s.vad = true
	if td.CreateResponse != nil {
		s.noAutoReply = !*td.CreateResponse
	}
	if ms := td.SilenceDurationMs; ms != nil {
		if *ms < 100 || *ms > 10000 {
			return s, badParam("session.audio.input.turn_detection.silence_duration_ms", "silence_duration_ms must be 100..10000")
		}
		s.silence = *ms
	}
	return s, nil
}

// decodeAudio decodes an append's base64 audio; its length must be whole
// samples of the session's format.
func decodeAudio(s settings, b64 string) ([]byte, *wireError) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, badParam("audio", "audio must be base64")
	}
	if s.format.Encoding == audio.EncLinear16 && len(b)%2 != 0 {
		return nil, badParam("audio", "audio/pcm must be whole 16-bit samples")
	}
	return b, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// withConversation applies a realtime session's own fields.
func (s settings) withConversation(c *sessionConfig) (settings, *wireError) {
	s.conversation = true
	switch m := c.Model; {
	case len(m) > 256 || strings.ContainsFunc(m, isControl):
		return s, badParam("session.model", "model is not a model name")
	case m != "" && !strings.HasPrefix(m, "gpt-"):
		s.chatModel = m // an upstream chat model; OpenAI's own names take the default
	}
	if in := c.Instructions; in != nil {
		if len(*in) > maxInstructions || !utf8.ValidString(*in) {
			return s, badParam("session.instructions", "instructions must be UTF-8 text of at most 8 KiB")
		}
		s.instructions = *in
	}
	if c.OutputModalities != nil {
		switch {
		case len(c.OutputModalities) == 1 && c.OutputModalities[0] == "text":
			s.textOnly = true
		case len(c.OutputModalities) == 1 && c.OutputModalities[0] == "audio":
			s.textOnly = false
		default:
			return s, badParam("session.output_modalities", `output_modalities must be ["audio"] or ["text"]`)
		}
	}
	if c.Audio != nil && c.Audio.Output != nil {
		o := c.Audio.Output
		if o.Format != nil && (o.Format.Type != "audio/pcm" || (o.Format.Rate != 0 && o.Format.Rate != outputRate)) {
			return s, badParam("session.audio.output.format", "output audio is audio/pcm at 24000 Hz")
		}
		if len(o.Voice) > 64 || strings.ContainsFunc(o.Voice, isControl) {
			return s, badParam("session.audio.output.voice", "voice is not a voice name")
		}
		if o.Voice != "" {
			s.voice = o.Voice
		}
	}
	return s, nil
}

// outputRate is the rate of reply audio (OpenAI's audio/pcm).
const outputRate = 24000

// serverEvent is every server message; fields beyond type and event_id
// are set only for the types that use them.
type serverEvent struct {
	Type           string       `json:"type"`
	EventID        string       `json:"event_id"`
	Session        *sessionView `json:"session,omitempty"`
	ItemID         string       `json:"item_id,omitempty"`
	PreviousItemID *string      `json:"previous_item_id,omitempty"`
	AudioStartMs   *int64       `json:"audio_start_ms,omitempty"`
	AudioEndMs     *int64       `json:"audio_end_ms,omitempty"`
	ContentIndex   *int         `json:"content_index,omitempty"`
	Delta          string       `json:"delta,omitempty"`
	Transcript     *string      `json:"transcript,omitempty"`
	Usage          *usage       `json:"usage,omitempty"`
	Error          *errorBody   `json:"error,omitempty"`
	// conversation sessions
	ResponseID  string        `json:"response_id,omitempty"`
	OutputIndex *int          `json:"output_index,omitempty"`
	Response    *responseView `json:"response,omitempty"`
	Item        *itemView     `json:"item,omitempty"`
	Part        *partView     `json:"part,omitempty"`
	Text        *string       `json:"text,omitempty"`
}

// responseView is the response object of response.created and .done.
type responseView struct {
	ID     string      `json:"id"`
	Object string      `json:"object"` // realtime.response
	Status string      `json:"status"` // in_progress, completed, cancelled, failed
	Output []itemView  `json:"output"`
	Usage  *tokenUsage `json:"usage,omitempty"`
}

type tokenUsage struct {
	TotalTokens  int64 `json:"total_tokens"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// itemView is a conversation item as the server reports it.
type itemView struct {
	ID      string     `json:"id"`
	Object  string     `json:"object"` // realtime.item
	Type    string     `json:"type"`   // message
	Role    string     `json:"role"`
	Status  string     `json:"status"`
	Content []partView `json:"content"`
}

type partView struct {
	Type       string `json:"type"` // input_text, input_audio, output_text, output_audio
	Text       string `json:"text,omitempty"`
	Transcript string `json:"transcript,omitempty"`
}

type usage struct {
	Type    string  `json:"type"` // "duration"
	Seconds float64 `json:"seconds"`
}

type errorBody struct {
	Type    string `json:"type"` // invalid_request_error, server_error
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
	EventID string `json:"event_id,omitempty"`
}

// sessionView is the session object of session.created and .updated.
type sessionView struct {
	Type   string `json:"type"`
	Object string `json:"object"`
	ID     string `json:"id"`
	Audio  struct {
		Input struct {
			Format        formatConf        `json:"format"`
			Transcription transcriptionConf `json:"transcription"`
			TurnDetection *turnDetection    `json:"turn_detection"`
		} `json:"input"`
	} `json:"audio"`
}

func (s settings) view(id string) *sessionView {
	v := &sessionView{Type: "transcription", Object: "realtime.transcription_session", ID: id}
	in := &v.Audio.Input
	in.Format = formatConf{Type: s.fmtName}
	if s.fmtName == "audio/pcm" {
		in.Format.Rate = s.format.SampleRate
	}
	in.Transcription = transcriptionConf{Model: s.model, Language: s.language}
	if s.conversation {
		v.Type, v.Object = "realtime", "realtime.session"
	}
	if s.vad {
		ms := s.silence
		in.TurnDetection = &turnDetection{Type: "server_vad", SilenceDurationMs: &ms}
	}
	return v
}
