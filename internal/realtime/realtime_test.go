package realtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/realtime.", "coder/websocket.", "net/http.(*persistConn)", "pion/") // pion: the benchmark's calls
}

var (
	recOnce sync.Once
	rec     speech.Recognizer
	recErr  error
)

// recognizer is a real PocketSphinx, loaded once per test binary.
func recognizer(t testing.TB) speech.Recognizer {
	t.Helper()
	recOnce.Do(func() {
		reg := speech.NewRegistry()
		pocketsphinx.Register(reg)
		rec, recErr = reg.Recognizers.New(context.Background(), speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	})
	if recErr != nil {
		t.Fatal(recErr)
	}
	return rec
}

// serve mounts h behind a stand-in gateway (an asr.read key).
func serve(t *testing.T, h *Handler) string {
	t.Helper()
	p := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(apierr.WithRequestID(auth.WithPrincipal(r.Context(), p), "req-test")))
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/realtime"
}

type conn struct {
	t *testing.T
	c *websocket.Conn
}

func open(t *testing.T, url string) *conn {
	t.Helper()
	c, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	k := &conn{t, c}
	k.expect("session.created")
	return k
}

func (k *conn) send(s string) {
	k.t.Helper()
	if err := k.c.Write(k.t.Context(), websocket.MessageText, []byte(s)); err != nil {
		k.t.Fatal(err)
	}
}

func (k *conn) next() map[string]any {
	k.t.Helper()
	_, b, err := k.c.Read(k.t.Context())
	if err != nil {
		k.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		k.t.Fatal(err)
	}
	return m
}

func (k *conn) expect(typ string) map[string]any {
	k.t.Helper()
	m := k.next()
	if m["type"] != typ {
		k.t.Fatalf("got %v, want %s", m, typ)
	}
	return m
}

// expectErr reads an error event and returns its code and event_id.
func (k *conn) expectErr() (code, eventID string) {
	k.t.Helper()
	e := k.expect("error")["error"].(map[string]any)
	code, _ = e["code"].(string)
	eventID, _ = e["event_id"].(string)
	return code, eventID
}

func silence(ms int) string {
	return base64.StdEncoding.EncodeToString(make([]byte, 2*24*ms))
}

// Refused events get error events with catalogue codes and the session
// goes on; settings are echoed in both spellings.
func TestEventsAndErrors(t *testing.T) {
	k := open(t, serve(t, NewHandler(Options{Recognizer: recognizer(t)})))
	k.send(`{"type":"nope","event_id":"e1"}`)
	if code, id := k.expectErr(); code != "bad_request" || id != "e1" {
		t.Errorf("unknown type: %s %s", code, id)
	}
	k.send(`not json`)
	if code, _ := k.expectErr(); code != "bad_request" {
		t.Errorf("not JSON: %s", code)
	}
	k.send(`{"type":"response.create"}`)
	if code, _ := k.expectErr(); code != "unprocessable" {
		t.Errorf("response.create in a transcription session: %s", code)
	}
	k.send(`{"type":"session.update","session":{"type":"realtime"}}`)
	if code, _ := k.expectErr(); code != "not_ready" {
		t.Errorf("a realtime session without chat: %s", code)
	}
	k.send(`{"type":"transcription_session.update","session":{"input_audio_format":"g711_ulaw","turn_detection":null}}`)
	in := k.expect("transcription_session.updated")["session"].(map[string]any)["audio"].(map[string]any)["input"].(map[string]any)
	if in["format"].(map[string]any)["type"] != "audio/pcmu" || in["turn_detection"] != nil {
		t.Errorf("beta update applied as %v", in)
	}
	k.send(`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"turn_detection":{"type":"server_vad","silence_duration_ms":5}}}}}`)
	if code, _ := k.expectErr(); code != "bad_request" {
		t.Errorf("silence 5 ms: %s", code)
	}
	k.send(`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"format":{"type":"audio/pcm","rate":24000}}}}}`)
	k.expect("session.updated")
	k.send(`{"type":"input_audio_buffer.append","audio":"AAA"}`)
	if code, _ := k.expectErr(); code != "bad_request" {
		t.Errorf("odd PCM16: %s", code)
	}
	k.send(`{"type":"input_audio_buffer.commit","event_id":"c0"}`)
	if code, id := k.expectErr(); code != "unprocessable" || id != "c0" {
		t.Errorf("an empty commit: %s %s", code, id)
	}
	k.send(`{"type":"input_audio_buffer.append","audio":"` + silence(200) + `"}`)
	k.send(`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"turn_detection":{"type":"server_vad"}}}}}`)
	if code, _ := k.expectErr(); code != "conflict" {
		t.Errorf("turn detection after audio: %s", code)
	}
	k.send(`{"type":"input_audio_buffer.clear"}`)
	k.expect("input_audio_buffer.cleared")
	// Silence committed by hand: committed, then an empty transcript.
	k.send(`{"type":"input_audio_buffer.append","audio":"` + silence(300) + `"}`)
	k.send(`{"type":"input_audio_buffer.commit"}`)
	item := k.expect("input_audio_buffer.committed")["item_id"]
	done := k.expect("conversation.item.input_audio_transcription.completed")
	if done["item_id"] != item || done["transcript"] != "" {
		t.Errorf("completed %v for item %v", done, item)
	}
	// A binary message ends the session: events are JSON text.
	if err := k.c.Write(t.Context(), websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	_, _, err := k.c.Read(t.Context())
	if code := websocket.CloseStatus(err); code != websocket.StatusUnsupportedData {
		t.Errorf("binary message: close %d", code)
	}
}

// Before the upgrade: no recognizer is 503, another intent 422, a plain
// GET 400; a message over the bound closes 1009.
func TestRefusedBeforeUpgrade(t *testing.T) {
	url := serve(t, NewHandler(Options{}))
	if _, resp, err := websocket.Dial(t.Context(), url, nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no recognizer: %v", err)
	}
	url = serve(t, NewHandler(Options{Recognizer: recognizer(t), MaxMessage: 1024}))
	if _, resp, err := websocket.Dial(t.Context(), url+"?intent=conversation", nil); err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("intent=conversation: %v", err)
	}
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET: %d", resp.StatusCode)
	}
	k := open(t, url)
	k.send(`{"type":"input_audio_buffer.append","audio":"` + silence(100) + `"}`)
	_, _, err = k.c.Read(t.Context())
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Errorf("a message over 1 KiB: close %d (%v)", code, err)
	}
}

// A transcription model the server does not serve is refused with the
// names it does, as the REST routes refuse it; an alias is accepted.
// output_audio_buffer.clear is a WebRTC call's event.
func TestUnknownModelRefused(t *testing.T) {
	k := open(t, serve(t, NewHandler(Options{Recognizer: recognizer(t), TranscribeModels: []string{"whisper-1", "pocketsphinx/en-us"}})))
	k.send(`{"type":"session.update","event_id":"m1","session":{"type":"transcription","audio":{"input":{"transcription":{"model":"whisper-9"}}}}}`)
	e := k.expect("error")["error"].(map[string]any)
	if e["code"] != "bad_request" || e["param"] != "session.audio.input.transcription.model" ||
		!strings.Contains(e["message"].(string), "whisper-1, pocketsphinx/en-us") || e["event_id"] != "m1" {
		t.Errorf("an unknown model: %v", e)
	}
	k.send(`{"type":"transcription_session.update","session":{"input_audio_transcription":{"model":"nope"}}}`)
	if code, _ := k.expectErr(); code != "bad_request" {
		t.Errorf("an unknown model (beta): %s", code)
	}
	k.send(`{"type":"session.update","session":{"type":"transcription","audio":{"input":{"transcription":{"model":"pocketsphinx/en-us"}}}}}`)
	in := k.expect("session.updated")["session"].(map[string]any)["audio"].(map[string]any)["input"].(map[string]any)
	if in["transcription"].(map[string]any)["model"] != "pocketsphinx/en-us" {
		t.Errorf("the engine's own name: %v", in)
	}
	k.send(`{"type":"output_audio_buffer.clear"}`)
	if code, _ := k.expectErr(); code != "unprocessable" {
		t.Errorf("output_audio_buffer.clear on a WebSocket: %s", code)
	}
}
