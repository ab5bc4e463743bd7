package apertium

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/translate"
	"github.com/izwi-speech/izwi/internal/translate/translatetest"
)

// newEngine needs Debian's apertium with the English–Spanish pair.
func newEngine(t testing.TB) *Engine {
	t.Helper()
	testenv.LookPath(t, "apertium", "apt-get install apertium apertium-eng-spa apertium-eng-cat apertium-en-gl")
	testenv.Exists(t, DefaultModesDir+"/eng-spa.mode", "apt-get install apertium-eng-spa")
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// sharedSentence is one of the shared recordings' reference transcripts
// (pocketsphinx-librivox), as a caption: lower case, as engines write.
func sharedSentence(t testing.TB) string {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == "sense_and_sensibility_01_austen_64kb-0880" {
			return strings.ToLower(u.Reference)
		}
	}
	t.Fatal("the shared set has no utterance 0880")
	return ""
}

func TestConformance(t *testing.T) {
	e := newEngine(t)
	s := sharedSentence(t)
	translatetest.Run(t, e, []translatetest.Case{
		// Debian bookworm's apertium-eng-spa 0.8.1, word for word.
		{Pair: translate.Pair{From: "en", To: "es"}, Text: s, Want: "No fue un hombre joven colocado enfermo"},
		{Pair: translate.Pair{From: "en", To: "ca"}, Text: "Good morning, everyone.", Want: "Bon dia, tothom."},
		{Pair: translate.Pair{From: "en", To: "gl"}, Text: "Good morning, everyone.", Want: "Bo día, todo o mundo."},
	})
}

func TestModes(t *testing.T) {
	for name, want := range map[string]translate.Pair{"eng-spa": {From: "en", To: "es"}, "en-gl": {From: "en", To: "gl"}, "spa-eng": {From: "es", To: "en"}} {
		if p, ok := ParseMode(name); !ok || p != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", name, p, ok, want)
		}
	}
	for _, bad := range []string{"eng", "eng-eng", "xx-yy", "eng-spa-cat", ""} {
		if p, ok := ParseMode(bad); ok {
			t.Errorf("ParseMode(%q) = %v, want refused", bad, p)
		}
	}
	if _, err := Modes(t.TempDir() + "/none"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("a missing modes dir: %v, want ErrNotInstalled", err)
	}
}

// A process that cannot run fails as unavailable, and says nothing of the text.
func TestBrokenBinary(t *testing.T) {
	newEngine(t)
	e, err := New(Options{Bin: "/bin/false", OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Translate(context.Background(), translate.Pair{From: "en", To: "es"}, "secret words")
	if !errors.Is(err, translate.ErrUnavailable) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want ErrUnavailable without the text", err)
	}
}

func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"eng-spa", "en-gl", "eng-cat_valencia", "-", "a-b-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, ok := ParseMode(s); ok && (p.From == p.To || p.From == "" || p.To == "") {
			t.Fatalf("ParseMode(%q) = %v", s, p)
		}
	})
}
