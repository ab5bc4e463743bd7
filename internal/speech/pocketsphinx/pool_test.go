package pocketsphinx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

func TestPoolReuseAndBound(t *testing.T) {
	rec := newRec(t, map[string]string{"decoders": "2"})
	ctx := context.Background()
	if n := rec.idleCount(); n != 1 {
		t.Fatalf("after New: %d idle decoders, want 1 (loaded eagerly)", n)
	}
	a, err := rec.NewStream(ctx, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := a.(*stream).d
	b, err := rec.NewStream(ctx, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.(*stream).d == first {
		t.Fatal("two open streams share one decoder")
	}
	// The bound is reached: a third stream waits, and gives up with ctx.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := rec.NewStream(short, speech.StreamOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NewStream beyond the bound = %v, want DeadlineExceeded", err)
	}
	// A waiter gets the decoder a closing stream returns.
	got := make(chan speech.Stream, 1)
	go func() {
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Error(err)
		}
		got <- st
	}()
	a.Close()
	c := <-got
	if c == nil {
		t.FailNow()
	}
	if c.(*stream).d != first {
		t.Error("waiting stream did not reuse the returned decoder")
	}
	c.Close()
	b.Close()
	if n := rec.idleCount(); n != 2 {
		t.Errorf("after closing all: %d idle, want 2", n)
	}
}

// A reused decoder carries nothing over: the same audio gives the same
// words, timestamps included, on a fresh decoder and on a reused one, and
// a stream closed mid-utterance leaves no trace in the next.
func TestPoolReuseIsClean(t *testing.T) {
	u := utterance(t, conformanceID)
	samples := readWAV(t, u.WAV)
	rec := newRec(t, map[string]string{"decoders": "1", "partials": "false"})
	want := transcribe(t, rec, samples, 1600)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Accept(context.Background(), samples[len(samples)/3:len(samples)/2]); err != nil {
		t.Fatal(err)
	}
	st.Close() // abandoned mid-speech
	got := transcribe(t, rec, samples, 1600)
	if speechtest.FinalText(got) != speechtest.FinalText(want) || len(got) != len(want) {
		t.Fatalf("reused decoder: %q, want %q", speechtest.FinalText(got), speechtest.FinalText(want))
	}
	for i := range got {
		if got[i].Start != want[i].Start || got[i].End != want[i].End {
			t.Errorf("segment %d: [%v, %v] on reuse, want [%v, %v]", i, got[i].Start, got[i].End, want[i].Start, want[i].End)
		}
	}
}

// Different utterances on concurrent streams each get their own text.
func TestConcurrentDifferentAudio(t *testing.T) {
	us := testdata.Utterances(t)[:3]
	rec := newRec(t, map[string]string{"partials": "false"})
	want := make([]string, len(us))
	audio := make([][]float32, len(us))
	for i, u := range us {
		audio[i] = readWAV(t, u.WAV)
		want[i] = speechtest.FinalText(transcribe(t, rec, audio[i], 3200))
	}
	var wg sync.WaitGroup
	got := make([]string, len(us))
	for i := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = speechtest.FinalText(transcribe(t, rec, audio[i], 1600))
		}()
	}
	wg.Wait()
	for i := range us {
		if got[i] != want[i] {
			t.Errorf("%s concurrently: %q, want %q", us[i].ID, got[i], want[i])
		}
	}
}

func TestHotwords(t *testing.T) {
	rec := newRec(t, map[string]string{"decoders": "1"})
	ctx := context.Background()

	// Known words need nothing and leave the decoder reusable.
	st, err := rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{"Hello World", "dashwood"}})
	if err != nil {
		t.Fatalf("known hotwords: %v", err)
	}
	d := st.(*stream).d
	st.Close()
	if d.tainted || rec.idleCount() != 1 {
		t.Errorf("known hotwords tainted the decoder")
	}

	// An unknown spelling without phones is unsupported.
	_, err = rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{"zzyzxq"}})
	if !errors.Is(err, speech.ErrUnsupported) || strings.Contains(err.Error(), "zzyzxq") {
		t.Errorf("unknown hotword = %v, want ErrUnsupported without echoing the word", err)
	}

	// With phones it is added to that stream's decoder only.
	st, err = rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{"zzyzxq:Z IH Z IH K S"}})
	if err != nil {
		t.Fatalf("hotword with phones: %v", err)
	}
	if d := st.(*stream).d; !d.known("zzyzxq") {
		t.Error("added hotword not in the dictionary")
	}
	st.Close()
	st, err = rec.NewStream(ctx, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.(*stream).d.known("zzyzxq") {
		t.Error("a later stream inherited another stream's hotword")
	}
	st.Close()

	// Phones outside the model's phone set are bad input.
	_, err = rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{"zzyzxq:QQ XX"}})
	if !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("bad phones = %v, want ErrBadInput", err)
	}
	for _, bad := range []string{"", "  ", "<s>", "[noise]", "the(2)", "a:", "a:ae1 b", strings.Repeat("a", 65)} {
		if _, err := rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{bad}}); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("hotword %q = %v, want ErrBadInput", bad, err)
		}
	}
	// The pool still works after all the refusals.
	if st, err := rec.NewStream(ctx, speech.StreamOptions{}); err != nil {
		t.Fatalf("after refusals: %v", err)
	} else {
		st.Close()
	}
}

// fakeModels resolves one catalogue name to the given model.
type fakeModels struct {
	name string
	m    speech.ResolvedModel
}

func (f fakeModels) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	if name != f.name {
		return speech.ResolvedModel{}, fmt.Errorf("fake: %q: %w", name, speech.ErrModel)
	}
	return f.m, nil
}

// debianResolved describes Debian's files as a resolver would, with the
// acoustic model in hmmDir.
func debianResolved(hmmDir string) speech.ResolvedModel {
	m := speech.ResolvedModel{Name: DefaultModel, Files: map[string]speech.ModelFile{
		"lm":   {Path: debianLM},
		"dict": {Path: debianDict},
	}}
	for _, f := range hmmFiles() {
		m.Files["hmm/"+f.name] = speech.ModelFile{Path: filepath.Join(hmmDir, f.name), SHA256: "x"}
	}
	return m
}

func TestModelResolution(t *testing.T) {
	ctx := context.Background()
	spec := speech.Spec{Engine: Name}
	good := fakeModels{DefaultModel, debianResolved(debianHMM)}
	rec, err := New(ctx, spec, speech.Deps{Models: good})
	if err != nil {
		t.Fatalf("resolved Debian model: %v", err)
	}
	if n := len(rec.Info().Files); n != 9 {
		t.Errorf("Info().Files has %d entries, want 9", n)
	}
	rec.Close()

	missing := debianResolved(debianHMM)
	delete(missing.Files, "hmm/sendump")
	tmp := t.TempDir()
	for _, f := range hmmFiles() {
		if err := os.Symlink(filepath.Join(debianHMM, f.name), filepath.Join(tmp, f.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "mixture_weights"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	junkLM := filepath.Join(t.TempDir(), "junk.lm")
	if err := os.WriteFile(junkLM, []byte("this is not a language model\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		spec speech.Spec
		deps speech.Deps
		want error
	}{
		"resolver error":  {speech.Spec{Engine: Name, Model: "nope"}, speech.Deps{Models: good}, speech.ErrModel},
		"missing role":    {spec, speech.Deps{Models: fakeModels{DefaultModel, missing}}, speech.ErrModel},
		"unverified file": {spec, speech.Deps{Models: fakeModels{DefaultModel, debianResolved(tmp)}}, speech.ErrModel},
		"path override":   {speech.Spec{Engine: Name, Options: map[string]string{"lm": "/tmp/x"}}, speech.Deps{Models: good}, speech.ErrUnsupported},
		"unknown option":  {speech.Spec{Engine: Name, Options: map[string]string{"beam": "1"}}, speech.Deps{}, speech.ErrBadInput},
		"bad samprate":    {speech.Spec{Engine: Name, Options: map[string]string{"samprate": "fast"}}, speech.Deps{}, speech.ErrBadInput},
		"bad decoders":    {speech.Spec{Engine: Name, Options: map[string]string{"decoders": "0"}}, speech.Deps{}, speech.ErrBadInput},
		"missing lm":      {speech.Spec{Engine: Name, Options: map[string]string{"lm": filepath.Join(tmp, "none.lm")}}, speech.Deps{}, speech.ErrModel},
		"lm is a dir":     {speech.Spec{Engine: Name, Options: map[string]string{"lm": tmp}}, speech.Deps{}, speech.ErrModel},
		"corrupt lm":      {speech.Spec{Engine: Name, Options: map[string]string{"lm": junkLM}}, speech.Deps{}, speech.ErrModel},
	} {
		if r, err := New(ctx, c.spec, c.deps); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
			if r != nil {
				r.Close()
			}
		}
	}
}

// A hotword with phones makes an out-of-vocabulary word recognisable:
// "counselled" (British spelling) is not in the CMU dictionary, so without
// it PocketSphinx cannot produce the reference word.
func TestHotwordRecognised(t *testing.T) {
	u := utterance(t, "1089-134686-0001") // "... HIS BELLY COUNSELLED HIM"
	samples := readWAV(t, u.WAV)
	reg := speech.NewRegistry()
	Register(reg)
	tr, err := reg.Transcribers.New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	run := func(hot []string) string {
		out, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Hotwords: hot})
		if err != nil {
			t.Fatal(err)
		}
		return out.Text
	}
	if got := run(nil); strings.Contains(got, "counselled") {
		t.Fatalf("without the hotword: %q already has it", got)
	}
	with := run([]string{"counselled:K AW N S AH L D"})
	if !strings.Contains(with, "counselled") {
		t.Errorf("with the hotword: %q, want it to contain \"counselled\"", with)
	}
	t.Logf("with hotword: %q", with)
	if got := run(nil); strings.Contains(got, "counselled") {
		t.Errorf("hotword leaked into the next transcription: %q", got)
	}
}

// Decoders idle for idleFree are freed, every one of them, for live
// streams and files alike (an idle server holds no decoder).
func TestIdleDecodersFreed(t *testing.T) {
	for _, live := range []bool{true, false} {
		rec := newProfileRec(t, live, map[string]string{"decoders": "3"}, speech.Deps{})
		var sts []speech.Stream
		for range 3 {
			st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sts = append(sts, st)
		}
		rec.mu.Lock()
		rec.idleFree = 50 * time.Millisecond
		if rec.pruning != nil { // armed by New with the default
			rec.pruning.Stop()
			rec.pruning = nil
		}
		rec.mu.Unlock()
		for _, st := range sts {
			st.Close()
		}
		for deadline := time.Now().Add(10 * time.Second); rec.idleCount() != 0; {
			if time.Now().After(deadline) {
				t.Fatalf("live %v: %d decoders still idle, want none", live, rec.idleCount())
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A freed decoder is loaded again on demand.
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
}
