package livehttp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// newManager is the real session manager over an in-process NATS server,
// a temporary SQLite store and PocketSphinx.
func newManager(t *testing.T) *live.Manager {
	t.Helper()
	srv, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	rec, err := reg.Recognizers.New(t.Context(), speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	m, err := live.NewManager(context.Background(), live.ManagerOptions{Store: st, Conn: nc, Recognizer: rec,
		Config: config.Live{QueueAudio: config.Duration(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// The handlers over the real manager: its errors map to the documented
// codes, real audio becomes captions on a viewer socket, and a password
// session's viewer ticket is checked by the manager (argon2id).
func TestWithRealManager(t *testing.T) {
	m := newManager(t)
	origin := "https://venue.example"
	hs := newHarness(t, harnessOpts{origins: []string{origin}, mutate: func(o *Options) { o.Sessions = m }})

	var eb errBody
	if code := hs.do("POST", "/v1/sessions", "alice", map[string]any{"viewer_mode": "password", "password": "short"}, &eb); code != 400 {
		t.Fatalf("short password: %d %+v", code, eb)
	}
	pw := hs.create("alice", map[string]any{"viewer_mode": "password", "password": "correct horse", "label": "Hall"})
	if code := hs.do("GET", "/v1/sessions/"+pw.ID, "bob", nil, nil); code != 404 {
		t.Fatalf("bob: %d", code)
	}
	if code := hs.do("POST", "/v1/sessions/"+pw.ID+"/start", "alice", nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	if code := hs.do("POST", "/v1/sessions/"+pw.ID+"/start", "alice", nil, &eb); code != 409 {
		t.Fatalf("second start: %d", code)
	}

	// A viewer with a ticket from the password.
	if code := hs.do("POST", "/v1/sessions/"+pw.ID+"/viewer-ticket", "", map[string]string{"secret": "wrong horse", "origin": origin}, nil); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	var tk ticket.Response
	if code := hs.do("POST", "/v1/sessions/"+pw.ID+"/viewer-ticket", "", map[string]string{"secret": "correct horse", "origin": origin}, &tk); code != 200 {
		t.Fatalf("viewer ticket: %d", code)
	}
	view, resp, err := hs.dial("/v1/sessions/"+pw.ID+"/captions", http.Header{"Origin": {origin}}, ticket.Subprotocol, tk.Ticket)
	if err != nil {
		t.Fatalf("viewer: %v %v", err, resp)
	}
	defer view.CloseNow()
	var mu sync.Mutex
	var finals []string
	var endErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := view.Read(context.Background())
			if err != nil {
				mu.Lock()
				endErr = err
				mu.Unlock()
				return
			}
			var e live.Event
			if json.Unmarshal(b, &e) == nil && e.Type == live.TypeCaption && e.Final && e.Text != "" {
				mu.Lock()
				finals = append(finals, e.Text)
				mu.Unlock()
			}
		}
	}()

	// Real speech, eight times real time, then finalize.
	var u testdata.Utterance
	for _, x := range testdata.Utterances(t) {
		if x.ID == "1089-134691-0001" {
			u = x
		}
	}
	clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := hs.dial("/v1/sessions/"+pw.ID+"/audio?encoding=linear16&sample_rate=16000", bearer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.CloseNow()
	pcm := audio.EncodePCM16(clip.Samples)
	for off := 0; off < len(pcm); off += 3200 {
		writeAll(t, in, pcm[off:min(off+3200, len(pcm))], 3200)
		time.Sleep(12 * time.Millisecond)
	}
	// A second source is refused while this one is attached.
	if b, _, err := hs.dial("/v1/sessions/"+pw.ID+"/audio?sample_rate=16000", bearer("alice")); err != nil {
		t.Fatal(err)
	} else if code, _ := closeOf(t, b); code != CloseBusy {
		t.Fatalf("second source: %d", code)
	}
	sendText(t, in, `{"type":"finalize"}`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		hyp := strings.Join(finals, " ")
		mu.Unlock()
		rate := wer.Compute(u.Reference, hyp).Rate()
		if rate <= 0.5 {
			t.Logf("WER %.3f through the handlers and the real manager", rate)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WER %.3f; finals %q", rate, hyp)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Stopped: audio is refused with 4009; deleted: viewers get 4004.
	if code := hs.do("POST", "/v1/sessions/"+pw.ID+"/stop", "alice", nil, nil); code != 200 {
		t.Fatalf("stop: %d", code)
	}
	_ = in.Write(t.Context(), websocket.MessageBinary, make([]byte, 3200))
	if code, reason := closeOf(t, in); code != CloseBusy {
		t.Fatalf("audio after stop: %d %q", code, reason)
	}
	if code := hs.do("DELETE", "/v1/sessions/"+pw.ID, "alice", nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	<-done
	var ce websocket.CloseError
	if !errors.As(endErr, &ce) || ce.Code != CloseNotFound {
		t.Fatalf("viewer after delete ended with %v, want %d", endErr, CloseNotFound)
	}
}
