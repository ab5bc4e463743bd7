package source

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

func TestMain(m *testing.M) { leaktest.Main(m, "izwi/internal/live") }

const pauseID = "2412-153948-0000"

func utterance(t *testing.T) testdata.Utterance {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == pauseID {
			return u
		}
	}
	t.Fatal("utterance missing")
	return testdata.Utterance{}
}

// newManager runs a real Manager (PocketSphinx, in-process NATS, SQLite)
// and returns a started session's id.
func newManager(t *testing.T) (*live.Manager, string) {
	t.Helper()
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	rec, err := reg.Recognizers.New(t.Context(), speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := live.NewManager(t.Context(), live.ManagerOptions{Store: st, Conn: nc, Recognizer: rec,
		Config: config.Live{QueueAudio: config.Duration(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close(context.Background())
		st.Close()
		nc.Close()
		srv.Shutdown()
		rec.Close()
	})
	c, err := m.Create(t.Context(), "k", live.CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	return m, c.ID
}

// waitWords watches the session until its finals match ref within limit.
func waitWords(t *testing.T, m *live.Manager, id, ref string, limit float64) float64 {
	t.Helper()
	f, err := m.Watch(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var words []string
	timeout := time.After(90 * time.Second)
	for {
		rate := wer.Compute(ref, strings.Join(words, " ")).Rate()
		if rate <= limit {
			return rate
		}
		select {
		case e, ok := <-f.Events():
			if !ok {
				t.Fatalf("feed closed: %v", f.Err())
			}
			if e.Type == live.TypeCaption && e.Final && e.Text != "" {
				words = append(words, e.Text)
			}
		case <-timeout:
			t.Fatalf("WER still %.3f: %q", rate, strings.Join(words, " "))
		}
	}
}

// fakeClock sleeps by moving a clocktest clock: pacing without waiting.
func fakeClock() (*clocktest.Clock, func(context.Context, time.Duration) error, *time.Duration) {
	c := clocktest.New(time.Unix(1_700_000_000, 0))
	var slept time.Duration
	var mu sync.Mutex
	return c, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept += d
		mu.Unlock()
		c.Advance(d)
		return ctx.Err()
	}, &slept
}

func TestFileSourceIntoManager(t *testing.T) {
	u := utterance(t)
	m, id := newManager(t)
	// The FLAC: decoding, not just WAV, on the way in.
	src, err := Parse("file:" + u.FLAC)
	if err != nil {
		t.Fatal(err)
	}
	clk, sleepFn, slept := fakeClock()
	f := src.(*File)
	f.Now, f.Sleep = clk.Now, sleepFn
	ing, err := m.Attach(t.Context(), "k", id, src.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Close()
	if err := Run(t.Context(), src, ing); err != nil {
		t.Fatal(err)
	}
	// Paced at real time: the playback waited (on the fake clock) for
	// the recording's length less the first chunk.
	if d := 11*time.Second + 600*time.Millisecond; *slept < d || *slept > 11800*time.Millisecond {
		t.Errorf("paced for %v of fake time", *slept)
	}
	rate := waitWords(t, m, id, u.Reference, 0.45)
	t.Logf("file source WER %.3f", rate)
}

// countingIngest records what a source writes.
type countingIngest struct {
	mu         sync.Mutex
	rate       int
	samples    int
	finals     int
	reconnects int
	fail       error
}

func (c *countingIngest) SampleRate() int { return c.rate }
func (c *countingIngest) Write(s []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples += len(s)
	return c.fail
}
func (c *countingIngest) Finalize() error { c.mu.Lock(); c.finals++; c.mu.Unlock(); return nil }
func (c *countingIngest) Close() error    { return nil }
func (c *countingIngest) Reconnected() error {
	c.mu.Lock()
	c.reconnects++
	c.mu.Unlock()
	return nil
}
func (c *countingIngest) get() (int, int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.samples, c.finals, c.reconnects
}

func TestFileLoopsAndResamples(t *testing.T) {
	// An 8 kHz stereo WAV resampled to 16 kHz mono, looped.
	dir := t.TempDir()
	p := filepath.Join(dir, "tone.wav")
	fh, _ := os.Create(p)
	if err := audio.EncodeWAV(fh, make([]float32, 2*8000), 8000, 2); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	src, err := Parse("file:" + p + "?loop=1")
	if err != nil || !src.(*File).Loop || src.String() != "file:"+p+"?loop=1" {
		t.Fatalf("parse: %v %+v", err, src)
	}
	clk, sleepFn, _ := fakeClock()
	ctx, cancel := context.WithCancel(t.Context())
	ing := &countingIngest{rate: 16000}
	f := src.(*File)
	f.Now = clk.Now
	f.Sleep = func(c context.Context, d time.Duration) error {
		if clk.Now().Sub(time.Unix(1_700_000_000, 0)) > 3500*time.Millisecond {
			cancel()
		}
		return sleepFn(c, d)
	}
	if err := Run(ctx, src, ing); err != nil {
		t.Fatal(err)
	}
	n, finals, _ := ing.get()
	// One second per pass at 16 kHz: more than three passes played.
	if n < 3*16000 || n > 5*16000 || finals != 0 {
		t.Errorf("wrote %d samples, %d finalizes", n, finals)
	}
}

func TestFileErrors(t *testing.T) {
	ing := &countingIngest{rate: 16000}
	src, _ := Parse("file:/nonexistent/x.wav")
	if err := Run(t.Context(), src, ing); err == nil {
		t.Error("missing file: no error")
	}
	p := filepath.Join(t.TempDir(), "junk.wav")
	os.WriteFile(p, []byte("RIFF junk"), 0o600)
	src, _ = Parse("file:" + p)
	if err := Run(t.Context(), src, ing); err == nil {
		t.Error("corrupt file: no error")
	}
}

func TestParse(t *testing.T) {
	for spec, ok := range map[string]bool{
		"alsa:hw:1,0": true, "alsa:default": true, "alsa:plughw:CARD=Mic,DEV=0": true,
		"file:/a/b.wav": true, "file:demo.flac?loop=1": true, "file:x.wav?loop=0": true,
		"": false, "alsa:": false, "alsa:-D": false, "alsa:hw;rm": false, "alsa:a b": false,
		"file:": false, "file:x?bogus=1": false, "file:x?loop=2": false, "rtsp://x": false,
		"file:x\n": false, "mic:1": false,
	} {
		src, err := Parse(spec)
		if ok != (err == nil) {
			t.Errorf("Parse(%q) = %v, %v", spec, src, err)
		}
		if err != nil && !errors.Is(err, ErrSpec) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSpec", spec, err)
		}
		if ok && !strings.HasPrefix(spec, src.String()[:5]) {
			t.Errorf("String() = %q for %q", src.String(), spec)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alsa:hw:1,0", "file:demo.wav?loop=1", "file:x?loop=1&loop=0", "alsa:-", "file:%zz", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		src, err := Parse(spec)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v not ErrSpec", err)
			}
			return
		}
		if a, ok := src.(*ALSA); ok && (strings.HasPrefix(a.Device, "-") || a.Device == "") {
			t.Fatalf("device %q accepted", a.Device)
		}
		if _, err := Parse(src.String()); err != nil {
			t.Fatalf("String() %q does not parse again: %v", src.String(), err)
		}
	})
}

// rawPCM writes samples as S16_LE for the ALSA file plugin.
func rawPCM(t *testing.T, s []float32) string {
	t.Helper()
	b := make([]byte, 0, 2*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(int16(max(-1, min(1, v))*32767)))
	}
	p := filepath.Join(t.TempDir(), "in.raw")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// reconnectCounter counts Reconnected calls on the way to a real Ingest.
type reconnectCounter struct {
	live.Ingest
	n atomic.Int32
}

func (r *reconnectCounter) Reconnected() error {
	r.n.Add(1)
	if rc, ok := r.Ingest.(interface{ Reconnected() error }); ok {
		return rc.Reconnected()
	}
	return nil
}
