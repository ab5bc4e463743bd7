package converse

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/converse.", "coder/websocket.", "internal/live.", "net/http.(*persistConn)")
}

var caller = auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeChatRead}}

// engines are real ones, loaded once per test binary: PocketSphinx
// recognition, Silero voice activity (sherpa), Flite synthesis.
type engines struct {
	rec speech.Recognizer
	vad speech.VAD
	syn speech.Synthesizer
}

var (
	enginesOnce sync.Once
	shared      engines
	sharedErr   error
)

type resolver map[string]speech.ResolvedModel

func (r resolver) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	m, ok := r[name]
	if !ok {
		return speech.ResolvedModel{}, fmt.Errorf("test resolver: %q not installed", name)
	}
	return m, nil
}

func loadEngines(t testing.TB) engines {
	t.Helper()
	vadPath := testdata.SileroVAD(t)
	enginesOnce.Do(func() {
		reg := speech.NewRegistry()
		pocketsphinx.Register(reg)
		sherpa.Register(reg)
		flite.Register(reg)
		ctx := context.Background()
		var e engines
		if e.rec, sharedErr = reg.Recognizers.New(ctx, speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{}); sharedErr != nil {
			return
		}
		st, err := os.Stat(vadPath)
		if err != nil {
			sharedErr = err
			return
		}
		model := speech.ResolvedModel{Name: "silero-vad-v5", Family: "vad-silero",
			Files: map[string]speech.ModelFile{"model": {Path: vadPath, SHA256: testdata.SileroVADSHA256, Size: st.Size()}}}
		if e.vad, sharedErr = reg.VADs.New(ctx, speech.Spec{Engine: "silero", Model: "silero-vad-v5", Options: map[string]string{"min_silence": "0.3"}},
			speech.Deps{Models: resolver{"silero-vad-v5": model}}); sharedErr != nil {
			return
		}
		if e.syn, sharedErr = reg.Synthesizers.New(ctx, speech.Spec{Engine: "flite"}, speech.Deps{}); sharedErr != nil {
			return
		}
		shared = e
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// newChat is a chat proxy in front of up.
func newChat(t testing.TB, up *chattest.Server) *chat.Proxy {
	t.Helper()
	c, err := config.Parse([]byte("[[chat.upstreams]]\nname = \"local\"\nbase_url = \"" + up.BaseURL() + "\"\nmodels = [\"test-model\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	px, err := chat.NewProxy(chat.Options{Config: c.Defaults().Chat, Client: hc})
	if err != nil {
		t.Fatal(err)
	}
	return px
}

// serve mounts h behind a stand-in gateway that authenticates everyone as
// caller, and closes h's conversations at the end.
func serve(t testing.TB, h *Handler) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := apierr.WithRequestID(auth.WithPrincipal(r.Context(), caller), "req-test")
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/converse"
}

// client is one conversation seen from the caller's side: every event and
// audio frame, in arrival order.
type client struct {
	t    testing.TB
	conn *websocket.Conn
	in   chan item
	done chan struct{}
}

type item struct {
	ev    Event
	audio []byte
	err   error
}

func dial(t testing.TB, url string, cfg string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	c := &client{t: t, conn: conn, in: make(chan item, 100000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			typ, b, err := conn.Read(context.Background())
			if err != nil {
				c.in <- item{err: err}
				return
			}
			if typ == websocket.MessageBinary {
				c.in <- item{audio: b}
				continue
			}
			var e Event
			if err := json.Unmarshal(b, &e); err != nil {
				c.in <- item{err: err}
				return
			}
			c.in <- item{ev: e}
		}
	}()
	t.Cleanup(func() {
		_ = conn.CloseNow()
		<-c.done
	})
	if cfg != "" {
		c.text(cfg)
	}
	return c
}

func (c *client) text(s string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// speak sends samples (16 kHz) as PCM16 in 100 ms messages, as fast as the
// socket takes them, then silence of the given length.
func (c *client) speak(samples []float32, silence time.Duration) {
	c.t.Helper()
	if err := c.send(samples, silence); err != nil {
		c.t.Fatal(err)
	}
}

// send is speak for a caller that expects the server may close the socket
// part-way (a quota ends the conversation): it returns the first write
// error.
func (c *client) send(samples []float32, silence time.Duration) error {
	all := append(append([]float32(nil), samples...), make([]float32, int(silence.Seconds()*16000))...)
	for off := 0; off < len(all); off += 1600 {
		b := pcm16(nil, all[off:min(off+1600, len(all))])
		if err := c.conn.Write(context.Background(), websocket.MessageBinary, b); err != nil {
			return err
		}
	}
	return nil
}

// next returns the next item, failing after a deadline.
func (c *client) next() item {
	c.t.Helper()
	select {
	case it := <-c.in:
		return it
	case <-time.After(60 * time.Second):
		c.t.Fatal("no message from the server in 60s")
		return item{}
	}
}

// until reads until an event of type typ, returning everything before it.
func (c *client) until(typ string) (Event, []item) {
	c.t.Helper()
	var seen []item
	for {
		it := c.next()
		if it.err != nil {
			c.t.Fatalf("connection ended waiting for %s: %v", typ, it.err)
		}
		if it.audio == nil && it.ev.Type == typ {
			return it.ev, seen
		}
		seen = append(seen, it)
	}
}

// samplesOf decodes PCM16 frames.
func samplesOf(frames [][]byte) []float32 {
	var out []float32
	for _, f := range frames {
		for i := 0; i+1 < len(f); i += 2 {
			out = append(out, float32(int16(binary.LittleEndian.Uint16(f[i:])))/32768)
		}
	}
	return out
}

// say synthesizes text with Flite (16 kHz, the recognizer's rate).
func say(t testing.TB, syn speech.Synthesizer, text string) []float32 {
	t.Helper()
	if syn.SampleRate() != 16000 {
		t.Fatalf("synthesizer rate %d, want 16000", syn.SampleRate())
	}
	s, _ := speechtest.Synthesize(t, syn, speech.SynthesisRequest{Text: text})
	return s
}

// recognize transcribes 16 kHz samples with PocketSphinx.
func recognizeText(t testing.TB, rec speech.Recognizer, samples []float32) string {
	t.Helper()
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return speechtest.FinalText(speechtest.Feed(t, st, samples, 1600))
}
