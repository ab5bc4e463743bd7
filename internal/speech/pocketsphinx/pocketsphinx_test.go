package pocketsphinx

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// conformanceID is an 11.7 s LibriSpeech utterance with a pause that
// PocketSphinx endpoints on, so the suite sees two segments.
const conformanceID = "2412-153948-0000"

func utterance(t *testing.T, id string) testdata.Utterance {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("utterance %s not in the shared set", id)
	return testdata.Utterance{}
}

// werBelow returns a check that fails when WER against ref exceeds limit.
func werBelow(ref string, limit float64) func(t *testing.T, text string) {
	return func(t *testing.T, text string) {
		t.Helper()
		if got := wer.Compute(ref, text).Rate(); got > limit {
			t.Errorf("WER %.3f > %.3f: %q", got, limit, text)
		}
	}
}

func TestRecognizerConformance(t *testing.T) {
	u := utterance(t, conformanceID)
	rec := newRec(t, nil)
	// Measured WER 0.361 on this file (pocketsphinx_continuous prints the
	// same text); 0.40 is that plus a small margin.
	speechtest.Recognizer(t, rec, readWAV(t, u.WAV), werBelow(u.Reference, 0.40))
}

func TestTranscriberConformance(t *testing.T) {
	u := utterance(t, conformanceID)
	reg := speech.NewRegistry()
	Register(reg)
	tr, err := reg.Transcribers.New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	speechtest.Transcriber(t, tr, readWAV(t, u.WAV), werBelow(u.Reference, 0.40))
}

func TestRegister(t *testing.T) {
	reg := speech.NewRegistry()
	Register(reg)
	roles := reg.Roles()
	for _, role := range []string{"asr", "transcribe"} {
		if !reflect.DeepEqual(roles[role], []string{Name}) {
			t.Errorf("role %s: %v, want [%s]", role, roles[role], Name)
		}
	}
	rec, err := reg.Recognizers.New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	info := rec.Info()
	if info.Engine != Name || info.Role != "asr" || info.Model != DefaultModel || info.Library != Library {
		t.Errorf("Info() = %+v", info)
	}
	if rec.SampleRate() != 16000 {
		t.Errorf("SampleRate() = %d, want 16000", rec.SampleRate())
	}
}

// transcribe runs samples through a fresh stream in chunks of chunk samples.
func transcribe(t *testing.T, rec *Recognizer, samples []float32, chunk int) []speech.Result {
	t.Helper()
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var finals []speech.Result
	keep := func(rs []speech.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Final {
				finals = append(finals, r)
			}
		}
	}
	for off := 0; off < len(samples); off += chunk {
		keep(st.Accept(context.Background(), samples[off:min(off+chunk, len(samples))]))
	}
	keep(st.Flush(context.Background()))
	return finals
}

// Endpoints are decided on fixed blocks (2048 samples for files, 512 live),
// so how a client chunks its audio must not change a single word or
// timestamp, in either profile.
func TestChunkSizeIndependent(t *testing.T) {
	u := utterance(t, conformanceID)
	samples := readWAV(t, u.WAV)
	for _, live := range []bool{false, true} {
		rec := newProfileRec(t, live, map[string]string{"partials": "false"}, speech.Deps{})
		want := transcribe(t, rec, samples, 32000)
		if len(want) < 2 {
			t.Fatalf("live %v: got %d segments, want ≥ 2 on this file", live, len(want))
		}
		for _, chunk := range []int{1, 333, 1600, 2048, 5000, len(samples)} {
			if chunk == 1 && (testing.Short() || live) {
				continue
			}
			if got := transcribe(t, rec, samples, chunk); !reflect.DeepEqual(got, want) {
				t.Errorf("live %v, chunk %d: results differ:\n got %+v\nwant %+v", live, chunk, got, want)
			}
		}
	}
}

// Word times are relative to the stream start across utterances: audio
// preceded by 3 s of silence gives the same words 3 s later (file profile:
// the live one, without the fwdflat pass, is not word-for-word stable once
// 3 s of silence have moved the cepstral mean).
func TestWordTimesAcrossUtterances(t *testing.T) {
	u := utterance(t, conformanceID)
	samples := readWAV(t, u.WAV)
	rec := newProfileRec(t, false, nil, speech.Deps{})
	plain := transcribe(t, rec, samples, 1600)
	shift := 3 * time.Second
	padded := append(make([]float32, 3*16000), samples...)
	moved := transcribe(t, rec, padded, 1600)
	if speechtest.FinalText(moved) != speechtest.FinalText(plain) {
		t.Fatalf("padding changed the text:\n%q\n%q", speechtest.FinalText(moved), speechtest.FinalText(plain))
	}
	var a, b []speech.Word
	for _, r := range plain {
		a = append(a, r.Words...)
	}
	for _, r := range moved {
		b = append(b, r.Words...)
	}
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d words vs %d", len(a), len(b))
	}
	for i := range a {
		if d := b[i].Start - a[i].Start - shift; d < -30*time.Millisecond || d > 30*time.Millisecond {
			t.Errorf("word %d %q: start %v padded vs %v plain, want +3s", i, a[i].Text, b[i].Start, a[i].Start)
		}
	}
	last := moved[len(moved)-1]
	if lim := speech.SamplesToDuration(len(padded), 16000); last.End > lim || last.Start < shift {
		t.Errorf("last segment [%v, %v] outside [3s, %v]", last.Start, last.End, lim)
	}
}

// Confidences come from real posteriors: inside [0,1], not all equal,
// clearly higher for correctly recognised words than for wrong ones.
func TestConfidenceMeaningful(t *testing.T) {
	rec := newRec(t, map[string]string{"partials": "false"})
	var right, wrong []float32
	for _, u := range testdata.Utterances(t)[:6] {
		ref := map[string]bool{}
		for _, w := range wer.Normalize(u.Reference) {
			ref[w] = true
		}
		for _, r := range transcribe(t, rec, readWAV(t, u.WAV), 32000) {
			if r.Confidence <= 0 || r.Confidence > 1 {
				t.Errorf("segment confidence %v", r.Confidence)
			}
			for _, w := range r.Words {
				if ref[w.Text] {
					right = append(right, w.Confidence)
				} else {
					wrong = append(wrong, w.Confidence)
				}
			}
		}
	}
	mean := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x)
		}
		return s / float64(len(v))
	}
	if len(right) < 20 || len(wrong) < 5 {
		t.Fatalf("%d right and %d wrong words: too few to judge", len(right), len(wrong))
	}
	mr, mw := mean(right), mean(wrong)
	t.Logf("mean confidence: %.3f over %d words in the reference, %.3f over %d not", mr, len(right), mw, len(wrong))
	if mr < mw+0.1 {
		t.Errorf("confidence does not separate right (%.3f) from wrong (%.3f) words", mr, mw)
	}
}

func TestClosedStreamAndRecognizer(t *testing.T) {
	rec := newRec(t, nil)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	for name, err := range map[string]error{
		"Flush": func() error { _, err := st.Flush(context.Background()); return err }(),
		"Reset": st.Reset(context.Background()),
	} {
		if !errors.Is(err, speech.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	rec.Close()
	if _, err := rec.NewStream(context.Background(), speech.StreamOptions{}); !errors.Is(err, speech.ErrClosed) {
		t.Errorf("NewStream after Close = %v, want ErrClosed", err)
	}
}

// Partials come while speech is in progress, only when their text changes,
// and carry the segment number of the final that closes them.
func TestPartials(t *testing.T) {
	u := utterance(t, conformanceID)
	samples := readWAV(t, u.WAV)
	rec := newRec(t, nil)
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []speech.Result
	for off := 0; off < len(samples); off += 1600 {
		rs, err := st.Accept(context.Background(), samples[off:min(off+1600, len(samples))])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
	}
	rs, err := st.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, rs...)
	partials, finals, repeats := 0, 0, 0
	var last speech.Result
	for i, r := range all {
		if r.Final {
			finals++
			last = speech.Result{}
			continue
		}
		partials++
		switch {
		case r.Text == "":
			t.Errorf("partial %d is empty", i)
		case r.Text == last.Text && r.End-last.End < refresh:
			t.Errorf("partial %d: %q repeats %v after the last, before the %v refresh", i, r.Text, r.End-last.End, refresh)
		case r.Text == last.Text:
			repeats++
		}
		// Pushes are 100 ms and refresh is shorter than the audio a push
		// decodes, so once the segment has a partial every push brings
		// one: at most a push plus a block of audio apart.
		if last.Text != "" && r.End-last.End > speech.SamplesToDuration(1600+liveBlock, 16000) {
			t.Errorf("partial %d: %v of audio since the last one", i, r.End-last.End)
		}
		last = r
		next := -1
		for _, f := range all[i:] {
			if f.Final {
				next = f.Segment
				break
			}
		}
		if next != r.Segment {
			t.Errorf("partial %d has segment %d, the final after it %d", i, r.Segment, next)
		}
	}
	if partials < 5 || finals < 2 || repeats == 0 {
		t.Errorf("%d partials (%d refreshes) and %d finals; want several partials, a refresh and ≥ 2 finals", partials, repeats, finals)
	}
}
