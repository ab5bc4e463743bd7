package sherpa

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

func TestSayable(t *testing.T) {
	lex := lexicon{"hello": {}, "world": {}, "it's": {}, "a": {}}
	for in, want := range map[string]string{
		"Hello world.":                  "Hello world.",
		"Hello, secretname world!":      "Hello, world!",
		"HELLO   \t\n world":            "HELLO world",
		"it's a café; hello":            "it's a ; hello",
		"hello-world":                   "hello world",
		"xyz":                           "",
		"hello 42 world ...":            "hello world ...",
		"'hello' world'":                "hello world",
		"\u00e9\u00e9 hello \xff world": "hello world",
	} {
		got, n := lex.sayable(in)
		if got != want {
			t.Errorf("sayable(%q) = %q, want %q", in, got, want)
		}
		if wantN := len(strings.FieldsFunc(want, func(r rune) bool { return strings.ContainsRune(" ,.!?;:", r) })); n != wantN {
			t.Errorf("sayable(%q) kept %d words, want %d", in, n, wantN)
		}
	}
}

func TestParseLexicon(t *testing.T) {
	lex, err := parseLexicon(strings.NewReader("Hello h e l l o\n\nworld w o r l d\n"))
	if err != nil || len(lex) != 2 {
		t.Fatalf("parseLexicon = %v, %v", lex, err)
	}
	if _, ok := lex["hello"]; !ok {
		t.Errorf("words are not lower-cased: %v", lex)
	}
	for _, bad := range []string{"", "\n\n", "word\n", strings.Repeat("x", 1<<17) + " a\n"} {
		if _, err := parseLexicon(strings.NewReader(bad)); !errors.Is(err, speech.ErrModel) {
			t.Errorf("parseLexicon(%.20q) = %v, want ErrModel", bad, err)
		}
	}
}

func FuzzParseLexicon(f *testing.F) {
	f.Add("hello h e l l o\nworld w o r l d\n")
	f.Add("a\n")
	f.Add("\xff\xfe x\r\n\tb c")
	f.Fuzz(func(t *testing.T, in string) {
		lex, err := parseLexicon(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, speech.ErrModel) {
				t.Fatalf("error %v does not wrap ErrModel", err)
			}
			return
		}
		if len(lex) == 0 {
			t.Fatalf("empty lexicon accepted")
		}
		for w := range lex {
			if w != asciiLower(w) || w == "" || strings.ContainsAny(w, " \t\n") {
				t.Fatalf("bad word %q", w)
			}
		}
	})
}

func FuzzSayable(f *testing.F) {
	lex := lexicon{"hello": {}, "world": {}, "it's": {}, "a": {}}
	f.Add("Hello, secret world!")
	f.Add("it's a ''' test ... \xff\x00")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		out, n := lex.sayable(in)
		// A space may be added between punctuation and a word ("!a" ->
		// "! a"), never more.
		if len(out) > 2*len(in) {
			t.Fatalf("output %q more than twice as long as input %q", out, in)
		}
		words := 0
		for _, w := range strings.FieldsFunc(out, func(r rune) bool { return strings.ContainsRune(" ,.!?;:", r) }) {
			if _, ok := lex[asciiLower(w)]; !ok {
				t.Fatalf("sayable(%q) = %q keeps unknown word %q", in, out, w)
			}
			words++
		}
		if words != n {
			t.Fatalf("sayable(%q) = %q, %d: counted %d words", in, out, n, words)
		}
	})
}

func FuzzParseVoices(f *testing.F) {
	f.Add("alto:female,bass:male", 2)
	f.Add("", 0)
	f.Add("a,a", 3)
	f.Add("x:robot", 1)
	f.Add(" a , b:neutral ", 5000)
	f.Fuzz(func(t *testing.T, spec string, n int) {
		vs, err := parseVoices(spec, n, "en", "")
		if err != nil {
			if !errors.Is(err, speech.ErrModel) {
				t.Fatalf("error %v does not wrap ErrModel", err)
			}
			return
		}
		if len(vs) == 0 || len(vs) > max(n, 1) {
			t.Fatalf("parseVoices(%q, %d) gave %d voices", spec, n, len(vs))
		}
		seen := map[string]bool{}
		for i, v := range vs {
			if !validVoiceID(v.ID) || seen[v.ID] {
				t.Fatalf("voice %d: bad or repeated id %q", i, v.ID)
			}
			seen[v.ID] = true
			if sid, err := speakerID(vs, v.ID); err != nil || sid != i {
				t.Fatalf("speakerID(%q) = %d, %v; want %d", v.ID, sid, err, i)
			}
		}
	})
}

func FuzzOptions(f *testing.F) {
	f.Add("0.5")
	f.Add(" 512 ")
	f.Add("NaN")
	f.Add("1e400")
	f.Add("-0")
	f.Fuzz(func(t *testing.T, s string) {
		o := map[string]string{"k": s}
		if v, err := floatOption(o, "k", 1, 0.01, 10); err == nil && (v < 0.01 || v > 10 || v != v) {
			t.Fatalf("floatOption(%q) = %v, outside [0.01, 10]", s, v)
		} else if err != nil && !errors.Is(err, speech.ErrBadInput) {
			t.Fatalf("floatOption(%q): %v does not wrap ErrBadInput", s, err)
		}
		if v, err := intOption(o, "k", 1, 64, 4096); err == nil && (v < 64 || v > 4096) {
			t.Fatalf("intOption(%q) = %v, outside [64, 4096]", s, v)
		}
	})
}

// TestSynthesizerKeepsTextOutOfLogs synthesizes text with words the model
// lacks in a child process and checks that none of them reach its stderr:
// sherpa-onnx logs unknown words, and Izwi never logs what users say.
func TestSynthesizerKeepsTextOutOfLogs(t *testing.T) {
	const secret = "Zanzibarqq"
	if os.Getenv("IZWI_SHERPA_LOG_CHILD") == "1" {
		s := loadTTS(t)
		nop := func([]float32) error { return nil }
		if err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hello " + secret + " world."}, nop); err != nil {
			t.Fatal(err)
		}
		if err := s.Synthesize(context.Background(), speech.SynthesisRequest{Text: secret + " " + secret}, nop); !errors.Is(err, speech.ErrBadInput) {
			t.Fatalf("only unknown words: %v, want ErrBadInput", err)
		}
		// The espeak front ends (Piper, Kokoro) phonemize any word.
		if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata"); err == nil {
			for _, name := range []string{piperModel, kokoroModel} {
				e, err := newSynthesizer(genModel(t, name), speech.Spec{})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				for _, txt := range []string{"hello " + secret + " world.", secret + " \u00fc\u00f1 \U0001F600 42 " + secret + "!"} {
					if err := e.Synthesize(context.Background(), speech.SynthesisRequest{Text: txt}, nop); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
		}
		return
	}
	genModel(t, ttsModel) // generate in the parent, so the child logs nothing else
	cmd := exec.Command(os.Args[0], "-test.run=^TestSynthesizerKeepsTextOutOfLogs$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IZWI_SHERPA_LOG_CHILD=1")
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if all := stdout.String() + stderr.String(); strings.Contains(strings.ToLower(all), strings.ToLower(secret)) {
		t.Errorf("the text reached the logs:\n%s", all)
	}
}
