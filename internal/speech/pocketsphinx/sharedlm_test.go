package pocketsphinx

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
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
	rec.lm, rec.cut = nil, nil
}

// Decoders reading the shared model through views, on the shared
// dictionary cut to its words, recognise exactly what decoders that loaded
// their own copy and the full dictionary do: same words, times and
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
		if shared.lm == nil || shared.cut.share == nil {
			t.Fatal("the recognizer does not share its language model and dictionary")
		}
		// The start-up decoder stays busy, so the streams below run on one
		// built around the shared dictionary (shareddict.go).
		hold, err := shared.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer hold.Close()
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
	if !asr.lm.has("the") || asr.lm.has("izwi") {
		t.Fatal("shared model vocabulary lookup wrong")
	}
	asr.Close()
	files.Close()
	sharedLMs.mu.Lock()
	defer sharedLMs.mu.Unlock()
	if e.refs != 0 || sharedLMs.m[asr.cfg.lm] == e {
		t.Errorf("model still held after both recognizers closed (refs %d)", e.refs)
	}
}

// The shared model's n-gram arrays (~24 MiB of pocketsphinx-en-us) are
// read in place from the model file (lmmap.h): page cache, not private
// memory. Loading the model adds far less anonymous memory than
// sphinxbase's heap copy of them, and a decoder over the mapping
// recognises as one with its own copy does (TestSharedLMParity).
func TestSharedLMMapped(t *testing.T) {
	cfg, err := newConfig(context.Background(), speech.Spec{Engine: Name}, speech.Deps{}, true)
	if err != nil {
		t.Fatal(err)
	}
	sharedLMs.mu.Lock()
	held := sharedLMs.m[cfg.lm] != nil
	sharedLMs.mu.Unlock()
	if held {
		t.Fatal("another test still holds the model; the memory figure would be wrong")
	}
	base := speechtest.RSSAnonKiB(t)
	lm, err := acquireLM(cfg.lm, cfg.args())
	if err != nil {
		t.Fatal(err)
	}
	defer lm.release()
	if !lm.mapped() {
		t.Fatal("the n-gram arrays are a heap copy, not the mapped file")
	}
	// Unigrams, word strings and the word hash stay on the heap (~4 MiB).
	if mib := float64(speechtest.RSSAnonKiB(t)-base) / 1024; mib > 10 {
		t.Errorf("loading the model added %.1f MiB of private memory; the n-gram arrays alone are ~24", mib)
	}
}

func TestCutDict(t *testing.T) {
	full := "a AH\na(2) EY\nzebra Z IY B R AH\n\nthe DH AH\nqux(x K W\nthe(2) DH IY"
	kept, outside := cutDict([]byte(full), func(w string) bool { return w == "a" || w == "the" })
	if want := "a AH\na(2) EY\nthe DH AH\nthe(2) DH IY\n"; string(kept) != want {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if !reflect.DeepEqual(outside, []string{"qux(x", "zebra"}) {
		t.Errorf("outside %q", outside)
	}
	c := &dictCut{outside: outside}
	if !c.has("zebra") || c.has("the") || (*dictCut)(nil).has("zebra") {
		t.Error("has() wrong")
	}
}

func FuzzCutDict(f *testing.F) {
	f.Add("a AH\na(2) EY\nzebra Z IY B R AH\n", "a")
	f.Add("(2) X\n()\n\n\n x(", "x")
	f.Fuzz(func(t *testing.T, full, word string) {
		kept, outside := cutDict([]byte(full), func(w string) bool { return w == word })
		if len(kept) > len(full)+strings.Count(full, "\n")+1 {
			t.Fatalf("kept %d bytes of %d", len(kept), len(full))
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(kept), "\n"), "\n") {
			if line == "" && len(kept) == 0 {
				continue
			}
			w := strings.Fields(line)[0]
			if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
				w = w[:i]
			}
			if w != word {
				t.Fatalf("kept line %q not in the vocabulary", line)
			}
		}
		if !sort.StringsAreSorted(outside) || (&dictCut{outside: outside}).has(word) {
			t.Fatalf("outside %q: unsorted or holds the vocabulary", outside)
		}
	})
}
