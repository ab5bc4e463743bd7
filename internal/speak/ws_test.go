package speak

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	dgwsapi "github.com/deepgram/deepgram-go-sdk/v3/pkg/api/speak/v1/websocket/interfaces"
	dginterfaces "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/interfaces"
	dgclient "github.com/deepgram/deepgram-go-sdk/v3/pkg/client/speak"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
)

// wsEvents collects what Deepgram's SDK hands its callback.
type wsEvents struct {
	mu       sync.Mutex
	audio    []byte
	metadata int
	flushed  []int
	cleared  int
	errs     []string
}

func (e *wsEvents) Open(*dgwsapi.OpenResponse) error { return nil }
func (e *wsEvents) Metadata(*dgwsapi.MetadataResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metadata++
	return nil
}
func (e *wsEvents) Flush(f *dgwsapi.FlushedResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushed = append(e.flushed, f.SequenceID)
	return nil
}
func (e *wsEvents) Clear(*dgwsapi.ClearedResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleared++
	return nil
}
func (e *wsEvents) Close(*dgwsapi.CloseResponse) error { return nil }
func (e *wsEvents) Warning(w *dgwsapi.WarningResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, "warning "+w.WarnCode)
	return nil
}
func (e *wsEvents) Error(er *dgwsapi.ErrorResponse) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, er.ErrMsg+" "+er.Description)
	return nil
}
func (e *wsEvents) UnhandledEvent([]byte) error { return nil }
func (e *wsEvents) Binary(b []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.audio = append(e.audio, b...)
	return nil
}

func (e *wsEvents) state() (int, []int, int, []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.metadata, append([]int(nil), e.flushed...), len(e.audio), append([]byte(nil), e.audio...)
}

// Deepgram's official SDK, unmodified, speaks over the WebSocket: Metadata
// first, the audio of each Flush as raw linear16 at the asked rate, as
// long as the REST WAV of the same text, then Flushed; Close ends it.
func TestSpeakSocketSDK(t *testing.T) {
	syn, err := loadFlite()
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Synthesizer: syn})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/speak", h)
	mux.Handle("GET /v1/speak", h.Socket())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func() {
		if err := h.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}()

	ev := &wsEvents{}
	dg, err := dgclient.NewWSUsingCallback(t.Context(), "izk_test", &dginterfaces.ClientOptions{Host: "ws" + strings.TrimPrefix(srv.URL, "http")},
		&dginterfaces.WSSpeakOptions{Model: "aura-asteria-en", Encoding: "linear16", SampleRate: 16000}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !dg.Connect() {
		t.Fatal("the SDK could not connect")
	}
	if err := dg.SpeakWithText(said); err != nil {
		t.Fatal(err)
	}
	if err := dg.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, flushed, _, _ := ev.state()
		if len(flushed) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Flushed within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dg.Stop()
	md, flushed, n, pcm := ev.state()
	if md != 1 || flushed[0] != 1 || n == 0 || n%2 != 0 {
		t.Fatalf("metadata %d, flushed %v, %d bytes of audio", md, flushed, n)
	}
	wav := speakREST(t, srv.URL, "encoding=linear16&container=wav&sample_rate=16000&model=aura-asteria-en")
	ref, err := audio.Decode(strings.NewReader(string(wav)), audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(len(pcm)/2) * time.Second / 16000; got < ref.Duration()-20*time.Millisecond || got > ref.Duration()+20*time.Millisecond {
		t.Errorf("socket audio %v, the REST WAV %v", got, ref.Duration())
	}
	if len(ev.errs) != 0 {
		t.Errorf("errors %v", ev.errs)
	}
}

// speakREST posts said to /v1/speak with query and returns the audio.
func speakREST(t *testing.T, base, query string) []byte {
	t.Helper()
	resp, err := http.Post(base+"/v1/speak?"+query, "application/json", strings.NewReader(`{"text":"`+said+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("REST: %d %v", resp.StatusCode, err)
	}
	return b
}

// The protocol's edges with a raw client: Clear answers Cleared and stops
// what was being spoken; an unknown type is a Warning; a binary message
// closes the socket with 1003; a refused query never upgrades.
func TestSpeakSocketProtocol(t *testing.T) {
	syn, err := loadFlite()
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Synthesizer: syn})
	srv := httptest.NewServer(h.Socket())
	defer srv.Close()
	defer func() { _ = h.Close(t.Context()) }()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/speak?encoding=linear16&sample_rate=8000"
	conn, _, err := websocket.Dial(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	next := func() map[string]any {
		t.Helper()
		for {
			typ, b, err := conn.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if typ == websocket.MessageText {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	if m := next(); m["type"] != "Metadata" || m["model_uuid"] == "" {
		t.Fatalf("first message %v", m)
	}
	write := func(s string) {
		t.Helper()
		if err := conn.Write(t.Context(), websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"type":"Speak","text":"` + strings.Repeat("A long sentence to speak. ", 60) + `"}`)
	write(`{"type":"Flush"}`)
	write(`{"type":"Clear"}`)
	write(`{"type":"Shout"}`)
	var types []string
	for len(types) < 2 {
		m := next()
		types = append(types, m["type"].(string))
	}
	if !slices.Contains(types, "Cleared") || !slices.Contains(types, "Warning") {
		t.Errorf("after Clear and an unknown type: %v", types)
	}
	if err := conn.Write(t.Context(), websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := conn.Read(t.Context()); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusUnsupportedData {
				t.Errorf("after a binary message: %v", err)
			}
			break
		}
	}
	resp, err := http.Get(srv.URL + "/v1/speak?encoding=mp3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("mp3 on the socket: %d", resp.StatusCode)
	}
}

// A socket whose key is revoked is closed with 1008 within a recheck.
func TestSpeakSocketRevoked(t *testing.T) {
	syn, err := loadFlite()
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Bool
	h := New(Options{Synthesizer: syn, RecheckEvery: 20 * time.Millisecond, Recheck: func(context.Context, auth.Principal) error {
		if revoked.Load() {
			return auth.ErrRevoked
		}
		return nil
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeTTSRead}}
		h.Socket().ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	}))
	defer srv.Close()
	conn, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/speak", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, _, err := conn.Read(t.Context()); err != nil { // Metadata
		t.Fatal(err)
	}
	revoked.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("after revocation: %v", err)
			}
			return
		}
	}
}
