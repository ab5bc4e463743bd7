package pocketsphinx

import (
	"reflect"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// unshare makes rec's pool load decoders with their own language model, as
// before models were shared (for comparison only).
func unshare(t *testing.T, rec *Recognizer) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, d := range rec.idle {
		d.free()
	}
	rec.idle = nil
	rec.lm.release()
	rec.lm = nil
}

// Decoders reading the shared model through views recognise exactly what
// decoders that loaded their own copy do: same words, times and
// confidences. This is the guard on the private sphinxbase layouts
// sharedlm.go relies on, with the live profile (TestCLIParity covers the
// file profile, against the CLI; TestConcurrentDifferentAudio views on
// two threads at once).
func TestSharedLMParity(t *testing.T) {
	us := testdata.Utterances(t)[:3]
	for _, live := range []bool{true} {
		shared := newProfileRec(t, live, nil, speech.Deps{})
		own := newProfileRec(t, live, nil, speech.Deps{})
		unshare(t, own)
		if shared.lm == nil {
			t.Fatal("the recognizer does not share its language model")
		}
		for _, u := range us {
			samples := readWAV(t, u.WAV)
			want := transcribe(t, own, samples, 3200)
			got := transcribe(t, shared, samples, 3200)
			if len(want) == 0 {
				t.Fatalf("%s: no finals from the unshared decoder", u.ID)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("live %v, %s: shared model gives\n %+v\nown model gives\n %+v", live, u.ID, got, want)
			}
		}
	}
}

// The asr and transcribe roles of one process read one loaded model, and
// it is freed when the last of them (and their decoders) is gone.
func TestSharedLMAcrossRoles(t *testing.T) {
	asr := newProfileRec(t, true, nil, speech.Deps{})
	files := newProfileRec(t, false, nil, speech.Deps{})
	if asr.lm == nil || files.lm == nil || asr.lm.e != files.lm.e {
		t.Fatal("the two roles loaded the language model twice")
	}
	e := asr.lm.e
	if n := len(asr.lm.words()); n < 1000 {
		t.Fatalf("shared model has %d words", n)
	}
	asr.Close()
	files.Close()
	sharedLMs.mu.Lock()
	defer sharedLMs.mu.Unlock()
	if e.refs != 0 || sharedLMs.m[asr.cfg.lm] == e {
		t.Errorf("model still held after both recognizers closed (refs %d)", e.refs)
	}
}
