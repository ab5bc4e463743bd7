package listen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/listen.", "coder/websocket.")
}

// shortID is a 3.2 s shared utterance PocketSphinx's file mode gets right
// word for word ("in the valley of the shadow of death he is with us"),
// short enough to stream in every test on a busy 2-core box.
const shortID = "3752-4944-0002"

// engines are real ones: PocketSphinx for recognition and files, Silero
// (sherpa) for voice activity.
type engines struct {
	rec speech.Recognizer
	tr  speech.Transcriber
	vad speech.VAD
}

type resolver map[string]speech.ResolvedModel

func (r resolver) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	m, ok := r[name]
	if !ok {
		return speech.ResolvedModel{}, fmt.Errorf("test resolver: %q not installed", name)
	}
	return m, nil
}

// shared holds the engines, loaded once per test binary: loading them
// takes 1.5 s and every test here needs them. The process exit releases
// them.
var shared struct {
	once sync.Once
	e    engines
	err  error
}

func loadEngines(t testing.TB) engines {
	t.Helper()
	p := testdata.SileroVAD(t) // fails (CI) or skips here when the shared data is missing
	shared.once.Do(func() { shared.e, shared.err = load(p) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.e
}

func load(sileroPath string) (engines, error) {
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	sherpa.Register(reg)
	ctx := context.Background()
	var e engines
	var err error
	if e.rec, err = reg.Recognizers.New(ctx, speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{}); err != nil {
		return e, err
	}
	if e.tr, err = reg.Transcribers.New(ctx, speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{}); err != nil {
		return e, err
	}
	st, err := os.Stat(sileroPath)
	if err != nil {
		return e, err
	}
	model := speech.ResolvedModel{Name: "silero-vad-v5", Family: "vad-silero",
		Files: map[string]speech.ModelFile{"model": {Path: sileroPath, SHA256: testdata.SileroVADSHA256, Size: st.Size()}}}
	e.vad, err = reg.VADs.New(ctx, speech.Spec{Engine: "silero", Model: "silero-vad-v5", Options: map[string]string{"min_silence": "0.3"}},
		speech.Deps{Models: resolver{"silero-vad-v5": model}})
	return e, err
}

func (e engines) options() Options {
	return Options{Recognizer: e.rec, VAD: e.vad, Transcriber: e.tr}
}

// utterance returns a shared utterance, its 16 kHz mono samples and its
// WAV bytes.
func utterance(t testing.TB, id string) (testdata.Utterance, []float32, []byte) {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			b, err := os.ReadFile(u.WAV)
			if err != nil {
				t.Fatal(err)
			}
			clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return u, clip.Mono(), b
		}
	}
	t.Fatalf("no shared utterance %s", id)
	return testdata.Utterance{}, nil, nil
}

func checkWER(t testing.TB, ref, hyp string, limit float64) {
	t.Helper()
	if got := wer.Compute(ref, hyp).Rate(); got > limit {
		t.Errorf("WER %.3f > %.3f: %q", got, limit, hyp)
	}
}

// serve starts h on a real listener.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func wsURL(base, query string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/v1/listen?" + query
}

// message is any server message, decoded loosely.
type message struct {
	Type         string          `json:"type"`
	IsFinal      bool            `json:"is_final"`
	SpeechFinal  bool            `json:"speech_final"`
	FromFinalize bool            `json:"from_finalize"`
	Start        float64         `json:"start"`
	Duration     float64         `json:"duration"`
	Channel      json.RawMessage `json:"channel"`
	LastWordEnd  float64         `json:"last_word_end"`
	Timestamp    float64         `json:"timestamp"`
	SHA256       string          `json:"sha256"`
	Channels     int             `json:"channels"`
	RequestID    string          `json:"request_id"`
	Metadata     ResultMetadata  `json:"metadata"`
	raw          []byte
}

func (m message) alt() Alternative {
	var c Channel
	_ = json.Unmarshal(m.Channel, &c)
	if len(c.Alternatives) == 0 {
		return Alternative{}
	}
	return c.Alternatives[0]
}

// session is a raw WebSocket client collecting every server message.
type session struct {
	t    testing.TB
	conn *websocket.Conn
	msgs chan message
	done chan error // the read loop's end: the close error
}

func dial(t testing.TB, url string, hdr http.Header) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	conn.SetReadLimit(8 << 20)
	s := &session{t: t, conn: conn, msgs: make(chan message, 10000), done: make(chan error, 1)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				close(s.msgs)
				s.done <- err
				return
			}
			var m message
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("server sent non-JSON: %q", b)
			}
			m.raw = b
			s.msgs <- m
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return s
}

func (s *session) sendAudio(pcm []byte, chunk int) {
	s.t.Helper()
	for off := 0; off < len(pcm); off += chunk {
		if err := s.conn.Write(context.Background(), websocket.MessageBinary, pcm[off:min(off+chunk, len(pcm))]); err != nil {
			s.t.Fatalf("sending audio: %v", err)
		}
	}
}

func (s *session) sendText(text string) {
	s.t.Helper()
	if err := s.conn.Write(context.Background(), websocket.MessageText, []byte(text)); err != nil {
		s.t.Fatalf("sending %s: %v", text, err)
	}
}

// until collects messages until stop says so, the connection ends, or the
// deadline passes (a failure).
func (s *session) until(stop func(message) bool) []message {
	s.t.Helper()
	var got []message
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return got
			}
			got = append(got, m)
			if stop != nil && stop(m) {
				return got
			}
		case <-deadline:
			s.t.Fatalf("no expected message within 60 s; got %d messages", len(got))
			return got
		}
	}
}

// closeStatus waits for the connection to end and returns its close
// status and reason.
func (s *session) closeStatus() (websocket.StatusCode, string) {
	s.t.Helper()
	for range s.msgs { // drain
	}
	select {
	case err := <-s.done:
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		return -1, err.Error()
	case <-time.After(60 * time.Second):
		s.t.Fatal("connection did not close within 60 s")
		return 0, ""
	}
}

// silence is d of 16 kHz linear16 zeros.
func silence(d time.Duration) []byte {
	return make([]byte, 2*int(d.Seconds()*16000))
}
