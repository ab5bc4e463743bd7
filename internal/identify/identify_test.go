package identify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// embeddedBus starts the embedded NATS server (no port) for one test.
func embeddedBus(t *testing.T) *nats.Conn { t.Helper(); return embeddedBusB(t) }

func embeddedBusB(t testing.TB) *nats.Conn {
	t.Helper()
	b, err := bus.Start(context.Background(), bus.Config{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.Conn()
}

func utterance(t *testing.T, rate int) []float32 {
	t.Helper()
	u := testdata.Utterances(t)[0]
	c, err := audio.DecodeFile(u.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audio.Prepare(c, rate)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The remote embedder conforms to the in-process one it fronts: same rate,
// dimension and model, the same embedding of the same audio within float
// tolerance; audio over the limit is refused (by the client, and by the
// identifier when a client does not check); with no identifier, discovery
// and embedding end at their deadline with ErrUnavailable.
func TestRemoteConformsToLocal(t *testing.T) {
	local := sherpatest.Embedder(t)
	nc := embeddedBus(t)
	srv, err := Serve(t.Context(), nc, local, Config{Model: sherpatest.SpeakerModel, MaxAudio: 6 * time.Second}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	remote, err := Discover(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	var _ speech.Embedder = remote
	if remote.SampleRate() != local.SampleRate() || remote.Dim() != local.Dim() || remote.Model() != sherpatest.SpeakerModel {
		t.Fatalf("remote advertises rate %d dim %d model %q; local rate %d dim %d", remote.SampleRate(), remote.Dim(),
			remote.Model(), local.SampleRate(), local.Dim())
	}
	if want := 6 * local.SampleRate(); remote.MaxSamples() != want {
		t.Fatalf("max samples %d, want %d", remote.MaxSamples(), want)
	}
	s := utterance(t, local.SampleRate())
	for _, n := range []int{local.SampleRate() / 2, 2 * local.SampleRate(), remote.MaxSamples()} {
		clip := s[:min(n, len(s))]
		want, err := local.Embed(t.Context(), clip)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Embed(t.Context(), clip)
		if err != nil {
			t.Fatalf("%d samples: %v", len(clip), err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d samples: remote dim %d, local %d", len(clip), len(got), len(want))
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("%d samples: component %d remote %v, local %v", len(clip), i, got[i], want[i])
			}
		}
	}

	long := make([]float32, remote.MaxSamples()+1)
	if _, err := remote.Embed(t.Context(), long); !errors.Is(err, ErrTooLong) {
		t.Errorf("over-long audio through the client: %v, want ErrTooLong", err)
	}
	// A client that does not check (an older or forged one) is refused by
	// the identifier itself, and so is one enrolled with another model.
	careless := &Remote{nc: nc, info: remote.info}
	careless.info.MaxSamples = len(long)
	if _, err := careless.Embed(t.Context(), long); !errors.Is(err, ErrTooLong) {
		t.Errorf("over-long audio at the identifier: %v, want ErrTooLong", err)
	}
	other := &Remote{nc: nc, info: remote.info}
	other.info.Model = "another-model"
	if _, err := other.Embed(t.Context(), s[:1000]); !errors.Is(err, ErrModel) {
		t.Errorf("another model's request: %v, want ErrModel", err)
	}
	if _, err := remote.Embed(t.Context(), []float32{float32(math.NaN())}); err == nil {
		t.Error("NaN audio embedded")
	}

	// No identifier: both calls end by their deadline.
	srv.Close()
	for name, call := range map[string]func(context.Context) error{
		"discover": func(ctx context.Context) error { _, err := Discover(ctx, nc); return err },
		"embed":    func(ctx context.Context) error { _, err := remote.Embed(ctx, s[:1000]); return err },
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := call(ctx)
		cancel()
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with no identifier: %v, want ErrUnavailable", name, err)
		}
	}
}

// A full queue is refused at once, not queued without bound.
func TestBusyIdentifierRefuses(t *testing.T) {
	nc := embeddedBus(t)
	block := make(chan struct{})
	srv, err := Serve(t.Context(), nc, &slowEmbedder{block: block}, Config{Model: "m", Workers: 1, Queue: 1}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer close(block)
	remote, err := Discover(t.Context(), nc)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := remote.Embed(ctx, make([]float32, 100))
			errs <- err
		}()
	}
	if err := <-errs; !errors.Is(err, ErrBusy) {
		t.Fatalf("third request with one worker and a queue of one: %v, want ErrBusy", err)
	}
}

type slowEmbedder struct{ block chan struct{} }

func (e *slowEmbedder) SampleRate() int { return 16000 }
func (e *slowEmbedder) Dim() int        { return 4 }
func (e *slowEmbedder) Embed(ctx context.Context, _ []float32) ([]float32, error) {
	select {
	case <-e.block:
		return []float32{1, 0, 0, 0}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (e *slowEmbedder) Info() speech.EngineInfo {
	return speech.EngineInfo{Engine: "test", Role: "speaker"}
}
func (e *slowEmbedder) Close() error { return nil }

// FuzzParseInfo: no advertisement crashes the parser, and what it accepts
// is within bounds.
func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(`{"engine":"sherpa","model":"m","sample_rate":16000,"dim":192,"max_samples":160000}`))
	f.Add([]byte(`{"model":"m","sample_rate":1,"dim":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInfo(b)
		if err == nil && (in.Dim < 1 || in.Dim > maxDim || in.SampleRate < 8000 || in.Model == "") {
			t.Fatalf("accepted %+v", in)
		}
	})
}

// FuzzDecode: no payload crashes the decoder; what it accepts round-trips.
func FuzzDecode(f *testing.F) {
	f.Add(encode([]float32{0, 1, -1}))
	f.Add([]byte{0, 0, 0x80, 0x7f}) // +Inf
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b, 64)
		if err != nil {
			return
		}
		if len(v) > 64 || string(encode(v)) != string(b) {
			t.Fatalf("decode(%x) = %v", b, v)
		}
	})
}

// A Finder keeps asking until an identifier answers, then keeps it.
func TestFinderFindsALateIdentifier(t *testing.T) {
	nc := embeddedBus(t)
	f := NewFinder(nc)
	if _, err := f.Find(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no identifier yet: %v, want ErrUnavailable", err)
	}
	block := make(chan struct{})
	close(block)
	srv, err := Serve(t.Context(), nc, &slowEmbedder{block: block}, Config{Model: "late"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Find(t.Context())
	if err != nil || r.Model() != "late" || r.Dim() != 4 {
		t.Fatalf("after an identifier started: %+v, %v", r, err)
	}
	if v, err := r.Embed(t.Context(), make([]float32, 10)); err != nil || len(v) != 4 {
		t.Fatalf("embed: %v, %v", v, err)
	}
	srv.Close()
	if again, err := f.Find(t.Context()); again != r || err != nil {
		t.Fatalf("the found identifier is kept: %p %v", again, err)
	}
}
