package pocketsphinx

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/wer"
)

// unrelatedText is real English prose that none of the shared utterances
// says: the GPL-3 text every Debian system ships (base-files).
func unrelatedText(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(testenv.Exists(t, "/usr/share/common-licenses/GPL-3", "Debian's base-files"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serviceSheet hides lines in unrelated text several times longer, as a
// real order of service hides the readings among notices.
func serviceSheet(t testing.TB, lines ...string) string {
	u := unrelatedText(t)
	return u[:len(u)/2] + "\n" + strings.Join(lines, ".\n") + ".\n" + u[len(u)/2:]
}

func newPreparedRec(t testing.TB) *Recognizer {
	t.Helper()
	return newProfileRec(t, true, nil, speech.Deps{Pronouncer: flite.Pronouncer{}})
}

func corpusWER(t *testing.T, tr speech.Transcriber, utts []testdata.Utterance, prepared string) float64 {
	t.Helper()
	var e wer.Errors
	for _, u := range utts {
		res, err := tr.Transcribe(context.Background(), readWAV(t, u.WAV), speech.TranscribeOptions{Prompt: prepared})
		if err != nil {
			t.Fatal(err)
		}
		e.Add(wer.Compute(u.Reference, res.Text))
	}
	return e.Rate()
}

// Prepared text that holds what is said, hidden in unrelated text fifteen
// times longer, at least halves the word error rate; unrelated text alone
// costs at most a point, with the file profile (the registered
// transcriber) and the live one (short blocks, a short endpoint, no
// fwdflat pass), which decodes differently enough to need its own check.
// (The whole shared set, side by side with the engine unprepared, is in
// docs/benchmarks.md.)
func TestPreparedTextHalvesWER(t *testing.T) {
	var utts []testdata.Utterance
	var refs []string
	for _, u := range testdata.Utterances(t) {
		if u.Speaker == "1089" || strings.HasSuffix(u.ID, "-0870") || strings.HasSuffix(u.ID, "-0890") {
			utts = append(utts, u)
			refs = append(refs, u.Reference)
		}
	}
	if len(utts) != 6 {
		t.Fatalf("%d utterances of speaker 1089 and two LibriVox ones, want 6", len(utts))
	}
	sheet := serviceSheet(t, refs...)
	for _, tc := range []struct {
		profile string
		harm    float64 // WER the unrelated text may add
	}{{"file", 0.01}, {"live", 0.01}} {
		t.Run(tc.profile, func(t *testing.T) {
			r := newProfileRec(t, tc.profile == "live", nil, speech.Deps{Pronouncer: flite.Pronouncer{}})
			tr := speech.StreamTranscriber(r)
			plain := corpusWER(t, tr, utts, "")
			prepared := corpusWER(t, tr, utts, sheet)
			unrelated := corpusWER(t, tr, utts, unrelatedText(t))
			t.Logf("WER over %d utterances: unprepared %.3f, prepared %.3f, unrelated text only %.3f", len(utts), plain, prepared, unrelated)
			if plain < 0.15 {
				t.Fatalf("unprepared WER %.3f: too low for the test to show anything", plain)
			}
			if prepared > plain/2 {
				t.Errorf("prepared WER %.3f, want at most half of %.3f", prepared, plain)
			}
			if unrelated > plain+tc.harm {
				t.Errorf("unrelated text raised WER from %.3f to %.3f (more than %.1f points)", plain, unrelated, 100*tc.harm)
			}
			rep, ok := r.ContextReport(sheet)
			if !ok || rep.Engine != Name || rep.Words < 500 || rep.NGrams < rep.Words || rep.ModelBytes == 0 || rep.BuildTime <= 0 {
				t.Errorf("report %+v %v", rep, ok)
			}
		})
	}
}

// A name no dictionary holds, given in the prepared text, is recognised:
// its pronunciation comes from Flite's letter-to-sound rules. Flite speaks
// the sentence, so the sounds and the rules agree, as they do for names a
// reader pronounces as spelt.
func TestPreparedNewNameRecognised(t *testing.T) {
	const line = "please welcome nokuthula dlamini to the lectern"
	syn, err := flite.New(speech.Spec{Model: "kal16"})
	if err != nil {
		t.Fatal(err)
	}
	var samples []float32
	err = syn.Synthesize(context.Background(), speech.SynthesisRequest{Text: line + "."}, func(s []float32) error {
		samples = append(samples, s...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if samples, err = audio.Resample(samples, syn.SampleRate(), 16000); err != nil {
		t.Fatal(err)
	}
	samples = append(make([]float32, 8000), append(samples, make([]float32, 8000)...)...)
	r := newPreparedRec(t)
	tr := speech.StreamTranscriber(r)
	plain, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sheet := serviceSheet(t, "Welcome and notices", "Please welcome Nokuthula Dlamini to the lectern", "Reading: Psalm 23")
	got, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Prompt: sheet})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unprepared %q; prepared %q", plain.Text, got.Text)
	for _, name := range []string{"nokuthula", "dlamini"} {
		if strings.Contains(plain.Text, name) {
			t.Fatalf("%q recognised without preparation: the test proves nothing", name)
		}
		if !strings.Contains(got.Text, name) {
			t.Errorf("%q not recognised with the prepared text: %q", name, got.Text)
		}
	}
	if rep, _ := r.ContextReport(sheet); !slices.Contains(rep.Added, "nokuthula") || !slices.Contains(rep.Added, "dlamini") {
		t.Errorf("report %+v: want the two names as new words", rep)
	}
}

// A decoder keeps its adaptation in the pool: a second stream with the
// same text reuses it, and a stream without text afterwards decodes
// exactly as a fresh decoder does — nothing of the prepared text leaks.
func TestPreparedDecoderReuseAndRestore(t *testing.T) {
	u := testdata.Utterances(t)[0]
	samples := readWAV(t, u.WAV)
	fresh := newRec(t, map[string]string{"decoders": "1"})
	want, err := speech.StreamTranscriber(fresh).Transcribe(context.Background(), samples, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(context.Background(), speech.Spec{Engine: Name, Options: map[string]string{"decoders": "1"}},
		speech.Deps{Pronouncer: flite.Pronouncer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr := speech.StreamTranscriber(r)
	sheet := serviceSheet(t, u.Reference, "Nokuthula Dlamini will read")
	for range 2 {
		if _, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{Prompt: sheet}); err != nil {
			t.Fatal(err)
		}
		if r.idleCount() != 1 {
			t.Fatalf("%d idle decoders after a prepared stream, want the one, kept", r.idleCount())
		}
	}
	got, err := tr.Transcribe(context.Background(), samples, speech.TranscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != want.Text {
		t.Fatalf("after prepared streams, plain decoding gave %q; a fresh decoder gives %q", got.Text, want.Text)
	}
	if r.idleCount() != 1 {
		t.Fatalf("%d idle decoders, want the one, restored", r.idleCount())
	}
}

// Hotwords join the prepared text; bad prepared text is refused.
func TestPreparedWithHotwordsAndRefusals(t *testing.T) {
	r := newPreparedRec(t)
	ctx := context.Background()
	st, err := r.NewStream(ctx, speech.StreamOptions{Context: "Welcome to the hall", Hotwords: []string{"izwi:IH Z W IY", "new york"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Accept(ctx, make([]float32, 16000)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// The report is found by the text alone, whatever hotwords came with it.
	if rep, ok := r.ContextReport("Welcome to the hall"); !ok || !slices.Contains(rep.Added, "izwi") {
		t.Errorf("report of a text given with hotwords: %+v %v", rep, ok)
	}
	// A text with nothing usable adapts nothing, and says so.
	st, err = r.NewStream(ctx, speech.StreamOptions{Context: "!!! … ??? 😀 ζζζ"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if rep, ok := r.ContextReport("!!! … ??? 😀 ζζζ"); !ok || rep.NGrams != 0 || rep.Dropped != 1 {
		t.Errorf("report of an unusable text: %+v %v", rep, ok)
	}
	// Status sums both adaptations up: the first has a model, the second none.
	first, _ := r.ContextReport("Welcome to the hall")
	if st := r.ContextStats(); len(st) != 1 || st[0].Cached != 2 || st[0].Builds != 2 || st[0].Bytes != first.ModelBytes || st[0].Bytes == 0 || st[0].Capacity != preparedEntries {
		t.Errorf("context stats %+v, want 2 cached and built, %d bytes", st, first.ModelBytes)
	}
	for name, opts := range map[string]speech.StreamOptions{
		"too long":       {Context: strings.Repeat("a ", 1<<19+1)},
		"hotword phones": {Context: "hello", Hotwords: []string{"zork:QQ XX"}},
	} {
		if _, err := r.NewStream(ctx, opts); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", name, err)
		}
	}
	// The refusals left no slot taken and no half-changed decoder behind.
	st, err = r.NewStream(ctx, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
