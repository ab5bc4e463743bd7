package realtime

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// The event parser and the session settings it feeds take any bytes
// without panicking, and whatever they accept is well formed.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"transcription":{"model":"gpt-4o-transcribe","language":"en"},"turn_detection":{"type":"server_vad","silence_duration_ms":500}}}}}`,
		`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"turn_detection":null}}}}`,
		`{"type":"transcription_session.update","session":{"input_audio_format":"g711_ulaw","turn_detection":null}}`,
		`{"type":"session.update","session":{"type":"realtime"}}`,
		`{"type":"input_audio_buffer.append","audio":"AAAA","event_id":"e1"}`,
		`{"type":"input_audio_buffer.append","audio":"AAA"}`,
		`{"type":"input_audio_buffer.commit"}`, `{"type":"input_audio_buffer.clear"}`,
		`{"type":"response.create"}`, `{"type":"response.cancel"}`, `{"type":"nope"}`,
		`{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}}`,
		`{"type":"session.update","session":{"type":"realtime","model":"test-model","instructions":"be brief","output_modalities":["text"],"audio":{"output":{"voice":"alloy","format":{"type":"audio/pcm","rate":24000}}}}}`, `{}`, `[]`, `{"type":1}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, werr := parseEvent(b)
		if werr != nil {
			if werr.code == "" || werr.message == "" {
				t.Fatalf("an error without code or message: %+v", werr)
			}
			return
		}
		if len(e.EventID) > maxEventID {
			t.Fatalf("event_id of %d bytes accepted", len(e.EventID))
		}
		switch e.Type {
		case ctSessionUpdate, ctTranscriptionUpdate:
			set, werr := defaultSettings().apply(e.Session, e.Type == ctTranscriptionUpdate)
			if werr != nil {
				return
			}
			if set.format.SampleRate < 8000 || set.format.SampleRate > 48000 || set.format.FrameSize() == 0 {
				t.Fatalf("settings accepted with format %+v", set.format)
			}
			if set.vad && (set.silence < 100 || set.silence > 10000) {
				t.Fatalf("silence %d ms accepted", set.silence)
			}
			if _, err := json.Marshal(set.view("sess_x")); err != nil {
				t.Fatal(err)
			}
		case ctAppend:
			set := defaultSettings()
			if pcm, werr := decodeAudio(set, e.Audio); werr == nil && len(pcm)%2 != 0 {
				t.Fatalf("odd PCM16 length %d accepted", len(pcm))
			}
		case ctCommit, ctClear, ctResponseCreate, ctResponseCancel:
		case ctItemCreate:
			if role, text, werr := e.Item.text(); werr == nil && (role == "" || text == "" || len(text) > maxInstructions) {
				t.Fatalf("item accepted as %q %q", role, text)
			}
		default:
			t.Fatalf("type %q accepted", e.Type)
		}
	})
}

// A call's or a client secret's session configuration (the offer's
// session part, a mint request's session) takes any bytes: refused with a
// catalogue code and a message, or accepted as settings a session holds.
func FuzzCheckSession(f *testing.F) {
	for _, s := range []string{
		`{"type":"realtime","model":"test-model","instructions":"be brief"}`,
		`{"type":"transcription","audio":{"input":{"transcription":{"model":"whisper-1"},"turn_detection":null}}}`,
		`{"type":"transcription","audio":{"input":{"transcription":{"model":"whisper-9"}}}}`,
		`{"type":"nope"}`, `null`, `[]`, `{`, "",
	} {
		f.Add([]byte(s))
	}
	h := NewHandler(Options{TranscribeModels: []string{"whisper-1"}})
	who := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead}}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := h.CheckSession(who, b)
		var ae *apierr.Error
		if err != nil && (!errors.As(err, &ae) || ae.Code == "" || ae.Message == "") {
			t.Fatalf("refused without a code: %v", err)
		}
		if err == nil {
			set, werr := h.callSession(&who, CallRate).initial(b)
			if werr != nil || set.conversation || !slices.Contains([]string{"whisper-1"}, set.model) {
				t.Fatalf("accepted %q as %+v", b, set)
			}
		}
	})
}
