package live

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// The session records' tests run again on PostgreSQL: the rest of the
// package does not touch the store.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Check(storetest.Main(m, storetest.Postgres{
		Run: "TestManagerLifecycleWordsAndRestart|TestViewerSecretsAndSettings|TestNumberingJumpsPastACrash|TestUpdateHotwordsWhileLiveAndLabelWhenStopped|TestDeleteEndsFeedsAndNoEngine",
	}), "izwi/internal/live."))
}

// pgDatabases maps a test's directory to its PostgreSQL database.
var pgDatabases sync.Map

// pauseID is an 11.7 s LibriSpeech utterance with a pause PocketSphinx
// endpoints on (two segments); PocketSphinx alone scores WER 0.361 on it.
const pauseID = "2412-153948-0000"

func utterance(t testing.TB, id string) testdata.Utterance {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("utterance %s not in the shared set", id)
	return testdata.Utterance{}
}

// samples reads a shared utterance as mono 16 kHz samples.
func samples(t testing.TB, u testdata.Utterance) []float32 {
	t.Helper()
	c, err := audio.DecodeFile(u.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SampleRate != 16000 || c.Channels != 1 {
		t.Fatalf("%s: %d Hz × %d, want 16 kHz mono", u.WAV, c.SampleRate, c.Channels)
	}
	return c.Samples
}

// loadRecognizer loads PocketSphinx once for the whole test binary (a
// load costs seconds on a busy machine; streams are independent).
var loadRecognizer = sync.OnceValues(func() (speech.Recognizer, error) {
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	return reg.Recognizers.New(context.Background(), speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
})

func newRecognizer(t testing.TB) speech.Recognizer {
	t.Helper()
	rec, err := loadRecognizer()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// sileroResolver resolves the shared Silero VAD after checking its pinned
// hash: nothing unverified reaches onnxruntime.
type sileroResolver struct{ path string }

func (r sileroResolver) Resolve(ctx context.Context, name string) (speech.ResolvedModel, error) {
	st, err := os.Stat(r.path)
	if err != nil {
		return speech.ResolvedModel{}, err
	}
	return speech.ResolvedModel{Name: name, Family: "vad-silero", Dir: filepath.Dir(r.path),
		Files: map[string]speech.ModelFile{"model": {Path: r.path, SHA256: testdata.SileroVADSHA256, Size: st.Size()}}}, nil
}

func newVAD(t testing.TB) speech.VAD {
	t.Helper()
	p := testdata.SileroVAD(t)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != testdata.SileroVADSHA256 {
		t.Fatalf("%s: hash differs from the pinned one", p)
	}
	reg := speech.NewRegistry()
	sherpa.Register(reg)
	v, err := reg.VADs.New(context.Background(), speech.Spec{Engine: "sherpa", Model: "silero-vad-v5"},
		speech.Deps{Models: sileroResolver{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// newNATS starts an in-process NATS server (no port) and returns a
// function that opens connections to it.
func newNATS(t testing.TB) func() *nats.Conn {
	t.Helper()
	return natsServer(t, &server.Options{DontListen: true, NoSigs: true, NoLog: true})
}

// natsServer starts an in-process NATS server with opts.
func natsServer(t testing.TB, opts *server.Options) func() *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(srv.Shutdown)
	return func() *nats.Conn {
		nc, err := nats.Connect("", nats.InProcessServer(srv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
}

// newStore opens the database of dir: a file in it on SQLite; on the
// PostgreSQL pass one database per dir, so reopening dir is a restart.
func newStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	db := filepath.Join(dir, "izwi.db")
	if storetest.Dialect() == store.Postgres {
		dsn, ok := pgDatabases.Load(dir)
		if !ok {
			dsn, _ = pgDatabases.LoadOrStore(dir, storetest.Database(t))
		}
		db = dsn.(string)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// werOf returns the WER of the finals' text against ref.
func werOf(ref string, finals []Event) (float64, string) {
	var words []string
	for _, e := range finals {
		if e.Text != "" {
			words = append(words, e.Text)
		}
	}
	hyp := strings.Join(words, " ")
	return wer.Compute(ref, hyp).Rate(), hyp
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
