package apertium

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/translate"
)

var enEs = translate.Pair{From: "en", To: "es"}

// The long-lived pipeline translates word for word as apertium's CLI does,
// including text with the characters of Apertium's stream format, and
// answers without starting processes per caption.
func TestPipelineMatchesCLI(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	for _, text := range []string{
		sharedSentence(t),
		"Good morning, everyone.",
		"The church is open, [really] 3/4 <b> {x} @home *star #1 ^up $5 back\\slash.",
		"Let us pray.",
	} {
		for _, p := range []translate.Pair{enEs, {From: "en", To: "ca"}} {
			got, err := e.viaPipeline(ctx, p, e.modes[p], text)
			if err != nil {
				t.Fatalf("%s pipeline %q: %v", p, text, err)
			}
			want, err := e.oneShot(ctx, e.modes[p], text)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s %q: pipeline %q, CLI %q", p, text, got, want)
			}
		}
	}
	sl := <-e.slots[enEs]
	e.slots[enEs] <- sl
	if sl.p == nil || sl.p.uses != 4 {
		t.Errorf("the en→es pipeline served %v translations, want the 4 calls on one pipeline", sl.p)
	}
}

// A pipeline whose processes die is replaced on the next call; a call
// whose deadline passes returns at once and the pipeline is replaced.
func TestPipelineRecovers(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	if _, err := e.viaPipeline(ctx, enEs, e.modes[enEs], "Good morning."); err != nil {
		t.Fatal(err)
	}
	sl := <-e.slots[enEs]
	pgid := sl.p.pgid
	e.slots[enEs] <- sl
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The dead pipeline fails this call (Translate then runs the CLI) ...
	if got, err := e.Translate(ctx, enEs, "Good morning."); err != nil || got != "Buenos días." {
		t.Fatalf("after a kill: %q, %v; want the CLI's answer", got, err)
	}
	// ... and the next one starts a new pipeline.
	if got, err := e.viaPipeline(ctx, enEs, e.modes[enEs], "Good morning."); err != nil || got != "Buenos días." {
		t.Fatalf("new pipeline: %q, %v", got, err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	if _, err := e.Translate(done, enEs, "Good morning."); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a cancelled call took %v", d)
	}
}

func TestParsePipeline(t *testing.T) {
	got, err := ParsePipeline("lt-proc -z -w '/a b/x.bin' | apertium-tagger -z -g $2 '/p' | lt-proc -z $1 '/g.bin'\n")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"lt-proc", "-z", "-w", "/a b/x.bin"}, {"apertium-tagger", "-z", "-g", "/p"}, {"lt-proc", "-z", "-n", "/g.bin"}}
	if len(got) != len(want) || strings.Join(got[0], ",") != strings.Join(want[0], ",") ||
		strings.Join(got[1], ",") != strings.Join(want[1], ",") || strings.Join(got[2], ",") != strings.Join(want[2], ",") {
		t.Errorf("ParsePipeline = %q, want %q", got, want)
	}
	for _, bad := range []string{"a | | b", "a 'b", "a; rm x", "a $(x)", "a > f", "a $HOME", "a && b", "| a", "a |", `a "b"`, ""} {
		if p, err := ParsePipeline(bad); err == nil {
			t.Errorf("ParsePipeline(%q) = %q, want refused", bad, p)
		}
	}
}

func FuzzParsePipeline(f *testing.F) {
	f.Add("lt-proc -z -w '/x.bin' | apertium-pretransfer -z | lt-proc -z $1 '/g.bin'")
	f.Add("a '' | b $2")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePipeline(s)
		if err != nil {
			return
		}
		for _, c := range p {
			if len(c) == 0 {
				t.Fatalf("ParsePipeline(%q) has an empty command", s)
			}
		}
	})
}

func FuzzEscape(f *testing.F) {
	f.Add(`a [b] \c ^$ /<>@*# {x}`)
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return
		}
		if got := unescape(escape(s)); got != s {
			t.Fatalf("unescape(escape(%q)) = %q", s, got)
		}
	})
}
