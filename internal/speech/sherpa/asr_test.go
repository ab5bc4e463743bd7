package sherpa

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

const (
	asrStreamingModel = "streaming-zipformer2-tiny"
	asrOfflineModel   = "offline-nemo-ctc-tiny"
)

// asrSpeech returns n real utterances at 16 kHz, each followed by 1.5 s of
// silence, as a live speaker pauses between sentences.
func asrSpeech(t testing.TB, n int) []float32 {
	t.Helper()
	var out []float32
	for _, u := range testdata.Utterances(t)[:n] {
		s, rate := readWAV(t, u.WAV)
		if rate != asrSampleRate {
			t.Fatalf("%s: rate %d, want %d", u.ID, rate, asrSampleRate)
		}
		out = append(out, s...)
		out = append(out, make([]float32, 3*asrSampleRate/2)...)
	}
	return out
}

func asrOnline(t testing.TB, opts ASROptions) *OnlineRecognizer {
	t.Helper()
	rec, err := NewOnlineRecognizer(genModel(t, asrStreamingModel), opts)
	if err != nil {
		t.Fatalf("NewOnlineRecognizer: %v", err)
	}
	t.Cleanup(func() {
		if err := rec.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rec
}

// asrStreamingModels are the generated streaming models.
var asrStreamingModels = []string{asrStreamingModel, "streaming-lstm-tiny", "streaming-zipformer2-ctc-tiny", "streaming-paraformer-tiny"}

func TestASROnlineConformance(t *testing.T) {
	for _, name := range asrStreamingModels {
		t.Run(name, func(t *testing.T) {
			rec, err := NewOnlineRecognizer(genModel(t, name), DefaultASROptions())
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			samples := asrSpeech(t, 2)
			speechtest.Recognizer(t, rec, samples, nil)
			st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rs := speechtest.Feed(t, st, samples, 1600)
			final := speechtest.FinalText(rs)
			t.Logf("%d results, final %.80q", len(rs), final)
			if final == "" {
				t.Errorf("no final text: the generated model should emit tokens on speech")
			}
			if name == "streaming-paraformer-tiny" {
				if ws := asrFinalWords(rs); len(ws) != 0 {
					t.Errorf("paraformer words with times: %+v", ws[0])
				}
				return
			}
			if got := asrJoinWords(asrFinalWords(rs)); got != final {
				t.Errorf("final words %.60q do not spell %.60q", got, final)
			}
		})
	}
}

func TestASROnlineProducesTimedWords(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	samples := asrSpeech(t, 3)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs := speechtest.Feed(t, st, samples, 1600)
	var finals, partials, words int
	for _, r := range rs {
		if r.Final {
			finals++
		} else {
			partials++
		}
		words += len(r.Words)
		if r.Text != "" && len(r.Words) == 0 {
			t.Errorf("segment %d has text %q but no words", r.Segment, r.Text)
		}
		if got := asrJoinWords(r.Words); got != r.Text {
			t.Errorf("words %q do not spell text %q", got, r.Text)
		}
	}
	t.Logf("%d finals, %d partials, %d words over %v: %q", finals, partials, words, asrElapsed(int64(len(samples))), speechtest.FinalText(rs))
	if finals == 0 || partials == 0 {
		t.Fatalf("got %d finals and %d partials, want both (the generated model emits tokens on speech)", finals, partials)
	}
	speechtest.CheckResults(t, rs, asrElapsed(int64(len(samples))))
}

func asrJoinWords(ws []speech.Word) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

func TestASROnlineSilenceGivesNothing(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if rs := speechtest.Feed(t, st, make([]float32, 5*asrSampleRate), 1600); len(rs) != 0 {
		t.Errorf("digital silence gave %d results, first %+v", len(rs), rs[0])
	}
}

func TestASROnlineTimesContinueAcrossFlush(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	samples := asrSpeech(t, 1)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first := speechtest.Feed(t, st, samples, 1600)
	second := speechtest.Feed(t, st, samples, 1600)
	if len(first) == 0 || len(second) == 0 {
		t.Fatalf("no results (%d, %d)", len(first), len(second))
	}
	lastFirst := first[len(first)-1]
	firstSecond := second[0]
	if firstSecond.Segment <= lastFirst.Segment {
		t.Errorf("segment numbers restarted across Flush: %d then %d", lastFirst.Segment, firstSecond.Segment)
	}
	dur := asrElapsed(int64(len(samples)))
	if firstSecond.Start < dur-asrTokenSpan {
		t.Errorf("second pass starts at %v, before the first pass ended (%v)", firstSecond.Start, dur)
	}
	// Same audio again: same words, shifted by exactly its duration.
	if speechtest.FinalText(first) != speechtest.FinalText(second) {
		t.Errorf("second pass %q, first %q", speechtest.FinalText(second), speechtest.FinalText(first))
	}
	w1, w2 := asrFinalWords(first), asrFinalWords(second)
	if len(w1) != len(w2) || len(w1) == 0 {
		t.Fatalf("word counts %d vs %d", len(w1), len(w2))
	}
	for i := range w1 {
		if d := w2[i].Start - w1[i].Start - dur; d < -asrTokenSpan || d > asrTokenSpan {
			t.Errorf("word %d: %v then %v, want shifted by %v", i, w1[i].Start, w2[i].Start, dur)
		}
	}
}

func asrFinalWords(rs []speech.Result) []speech.Word {
	var ws []speech.Word
	for _, r := range rs {
		if r.Final {
			ws = append(ws, r.Words...)
		}
	}
	return ws
}

func TestASRBatchDecodeMatchesOneByOne(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	utts := testdata.Utterances(t)[:4]
	ctx := context.Background()
	want := make([]string, len(utts))
	audio := make([][]float32, len(utts))
	for i, u := range utts {
		audio[i], _ = readWAV(t, u.WAV)
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = speechtest.FinalText(speechtest.Feed(t, st, audio[i], 1600))
		st.Close()
	}
	streams := make([]*OnlineStream, len(utts))
	got := make([][]speech.Result, len(utts))
	for i := range streams {
		st, err := rec.NewOnlineStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		streams[i] = st
	}
	const chunk = 1600
	for off := 0; ; off += chunk {
		active := false
		for i, st := range streams {
			if off < len(audio[i]) {
				active = true
				if err := st.Push(audio[i][off:min(off+chunk, len(audio[i]))]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !active {
			break
		}
		rec.DecodeReady(streams)
		for i, st := range streams {
			rs, err := st.Results()
			if err != nil {
				t.Fatal(err)
			}
			got[i] = append(got[i], rs...)
		}
	}
	for i, st := range streams {
		rs, err := st.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got[i] = append(got[i], rs...)
		if g := speechtest.FinalText(got[i]); g != want[i] {
			t.Errorf("stream %d batched: %q, alone: %q", i, g, want[i])
		}
	}
	if strings.Join(want, "") == "" {
		t.Fatalf("no words at all: the comparison proves nothing")
	}
}

func TestASROnlineCloseRefusedWhileStreamsOpen(t *testing.T) {
	rec, err := NewOnlineRecognizer(genModel(t, asrStreamingModel), DefaultASROptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err == nil {
		t.Errorf("Close with an open stream succeeded")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := rec.NewStream(context.Background(), speech.StreamOptions{}); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("NewStream after Close = %v, want ErrClosed", err)
	}
}

func TestASRConcurrentStreamsShareModel(t *testing.T) {
	rec := asrOnline(t, DefaultASROptions())
	utts := testdata.Utterances(t)[:3]
	want := make([]string, len(utts))
	audio := make([][]float32, len(utts))
	for i, u := range utts {
		audio[i], _ = readWAV(t, u.WAV)
		st, _ := rec.NewStream(context.Background(), speech.StreamOptions{})
		want[i] = speechtest.FinalText(speechtest.Feed(t, st, audio[i], 3200))
		st.Close()
	}
	var wg sync.WaitGroup
	for i := range utts {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				defer st.Close()
				if got := speechtest.FinalText(speechtest.Feed(t, st, audio[i], 800)); got != want[i] {
					t.Errorf("utterance %d concurrently: %q, alone %q", i, got, want[i])
				}
			}()
		}
	}
	wg.Wait()
}

func TestASRModelErrors(t *testing.T) {
	good := genModel(t, asrStreamingModel)
	clone := func() speech.ResolvedModel {
		m := good
		m.Files = map[string]speech.ModelFile{}
		for k, v := range good.Files {
			m.Files[k] = v
		}
		m.Meta = map[string]string{}
		for k, v := range good.Meta {
			m.Meta[k] = v
		}
		return m
	}
	missing := clone()
	f := missing.Files["joiner"]
	f.Path = filepath.Join(t.TempDir(), "no-such-joiner.onnx")
	missing.Files["joiner"] = f
	noRole := clone()
	delete(noRole.Files, "tokens")
	badType := clone()
	badType.Meta["model_type"] = "transformer-xl"
	badFamily := clone()
	badFamily.Meta["family"] = "online-mystery"
	badFamily.Family = "online-mystery"
	badDim := clone()
	badDim.Meta["feature_dim"] = "4096"
	for name, m := range map[string]speech.ResolvedModel{
		"missing file": missing, "no tokens role": noRole, "bad model_type": badType, "bad family": badFamily,
		"bad feature_dim": badDim,
	} {
		if _, err := NewOnlineRecognizer(m, DefaultASROptions()); !errors.Is(err, speech.ErrModel) {
			t.Errorf("%s: err = %v, want ErrModel", name, err)
		}
	}
	rate8k := clone()
	rate8k.Meta["sample_rate"] = "8000"
	if _, err := NewOnlineRecognizer(rate8k, DefaultASROptions()); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("sample_rate 8000: %v, want ErrUnsupported", err)
	}
	// A NeMo model whose tokens.txt lacks <blk> would make sherpa-onnx exit.
	nemo := genModel(t, asrOfflineModel)
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(bad, []byte("a 0\nb 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nemo.Files = map[string]speech.ModelFile{"model": nemo.Files["model"], "tokens": {Path: bad, Size: 8}}
	if _, err := NewOfflineTranscriber(nemo, DefaultASROptions()); !errors.Is(err, speech.ErrModel) {
		t.Errorf("tokens without <blk>: %v, want ErrModel", err)
	}
	// A streaming model is not a file transcriber, and the other way round.
	if _, err := NewOfflineTranscriber(good, DefaultASROptions()); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("streaming model as transcriber: %v, want ErrUnsupported", err)
	}
	if _, err := NewOnlineRecognizer(genModel(t, asrOfflineModel), DefaultASROptions()); !errors.Is(err, speech.ErrUnsupported) {
		t.Errorf("offline model as recognizer: %v, want ErrUnsupported", err)
	}
	if _, err := os.Stat(good.File("joiner")); err != nil {
		t.Fatalf("good model changed: %v", err)
	}
}
