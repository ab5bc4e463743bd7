package chain

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/logtest"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/speech/chain", "internal/speech/deepgram", "coder/websocket")
}

// shortID is a 2.1 s utterance: loops stay fast.
const shortID = "1089-134691-0000"

// rig is a chain of Deepgram (the double, PocketSphinx behind it) and a
// local PocketSphinx, with the chain's log captured.
type rig struct {
	dbl   *dgtest.Server
	key   string
	rec   *Recognizer
	local speech.Recognizer
	logs  *logtest.Buffer
}

// testConfig: quick probes keep loops fast; the stall bound is above the
// default because tests feed faster than real time and, under -race or a
// loaded CI box, the double's PocketSphinx answers well below real time
// (at load 15 on two cores it fell more than 3 s behind and a healthy
// primary was taken for stalled).
func testConfig() Config {
	return Config{Stall: 6 * time.Second, ProbeMin: 20 * time.Millisecond, ProbeMax: 200 * time.Millisecond}
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	key, file := dgtest.CanaryKey(t)
	dbl := dgtest.New(t, dgtest.PocketSphinx(t, 4), key)
	dg, err := deepgram.New(deepgram.Config{URL: dbl.URL, APIKeyFile: file, DialTimeout: time.Second}, secrets.Source{})
	if err != nil {
		t.Fatal(err)
	}
	local := dgtest.PocketSphinx(t, 4) // decoders load on demand, up to 4
	logs := &logtest.Buffer{}
	rec, err := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Engine{Name: "deepgram", Rec: dg}, Engine{Name: "pocketsphinx", Rec: local})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{dbl: dbl, key: key, rec: rec, local: local, logs: logs}
}

// session is one chain stream with everything it reported.
type session struct {
	t       testing.TB
	st      speech.Stream
	results []speech.Result
	events  []speech.StreamEvent
}

func (r *rig) open(t testing.TB, keep bool) *session {
	t.Helper()
	s := &session{t: t}
	st, err := r.rec.NewStream(context.Background(), speech.StreamOptions{KeepForCatchUp: keep,
		Events: func(e speech.StreamEvent) { s.events = append(s.events, e) }})
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	s.st = st
	t.Cleanup(func() { st.Close() })
	return s
}

// feed pushes samples in 100 ms chunks, pace apart (0: as fast as taken).
func (s *session) feed(samples []float32, pace time.Duration) {
	s.t.Helper()
	for off := 0; off < len(samples); off += 1600 {
		rs, err := s.st.Accept(context.Background(), samples[off:min(off+1600, len(samples))])
		if err != nil {
			s.t.Fatalf("Accept: %v", err)
		}
		s.results = append(s.results, rs...)
		if pace > 0 {
			time.Sleep(pace) // a live source's frame interval
		}
	}
}

func (s *session) flush() {
	s.t.Helper()
	rs, err := s.st.Flush(context.Background())
	if err != nil {
		s.t.Fatalf("Flush: %v", err)
	}
	s.results = append(s.results, rs...)
}

// switches returns the switch events as "from>to:reason".
func (s *session) switches() []string {
	var out []string
	for _, e := range s.events {
		if e.Kind == speech.EventSwitch {
			out = append(out, e.From+">"+e.To+":"+e.Reason)
		}
	}
	return out
}

// finals returns the final results (with text) from index from on.
func (s *session) finals(from int) []speech.Result {
	var out []speech.Result
	for _, r := range s.results[from:] {
		if r.Final && r.Text != "" {
			out = append(out, r)
		}
	}
	return out
}

// awaitRecovery feeds silence until the chain has reported switching back
// and the primary serves, or fails after deadline. (A fault that lets
// handshakes through, such as malformed answers, may see the chain return
// and leave again while it lasts: probes cannot tell.)
func (s *session) awaitRecovery(deadline time.Duration) {
	s.t.Helper()
	silence := make([]float32, 1600)
	end := time.Now().Add(deadline)
	// Answers the double wrote before the fault was cleared may still be
	// in flight: the primary must serve for a second of audio in a row.
	for stable := 0; stable < 10; {
		if time.Now().After(end) {
			s.t.Fatalf("no switch back within %v; switches %v", deadline, s.switches())
		}
		s.feed(silence, 20*time.Millisecond)
		if s.recovered() && s.st.(*stream).cur == 0 {
			stable++
		} else {
			stable = 0
		}
	}
}

func (s *session) recovered() bool {
	for _, e := range s.events {
		if e.Kind == speech.EventSwitch && e.Reason == "recovered" {
			return true
		}
	}
	return false
}
