// Package translatetest owns the conformance suite every translate.Engine
// runs: it checks the contract in translate.Engine's comment against a real
// engine. Only tests import it.
package translatetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/translate"
)

// Case is a sentence and what the engine must make of it along Pair.
// Want, when set, is the exact expected translation; otherwise any
// non-empty text differing from the source passes.
type Case struct {
	Pair translate.Pair
	Text string
	Want string
}

// Run checks e against the contract with cases (at least one).
func Run(t *testing.T, e translate.Engine, cases []Case) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("translatetest: no cases")
	}
	t.Run("Pairs", func(t *testing.T) {
		ps := e.Pairs()
		if ps != nil && len(ps) == 0 {
			t.Fatal("Pairs is empty but not nil (nil means any pair)")
		}
		for _, p := range ps {
			for _, c := range []string{p.From, p.To} {
				if n, ok := translate.NormLang(c); !ok || n != c {
					t.Errorf("pair %s: %q is not a normalised ISO 639-1 code", p, c)
				}
			}
		}
		if e.Name() == "" {
			t.Error("Name is empty")
		}
	})
	t.Run("Translate", func(t *testing.T) {
		for _, c := range cases {
			got, err := e.Translate(context.Background(), c.Pair, c.Text)
			if err != nil {
				t.Fatalf("%s %q: %v", c.Pair, c.Text, err)
			}
			switch {
			case c.Want != "" && got != c.Want:
				t.Errorf("%s %q = %q, want %q", c.Pair, c.Text, got, c.Want)
			case strings.TrimSpace(got) == "" || got == c.Text:
				t.Errorf("%s %q = %q: not a translation", c.Pair, c.Text, got)
			}
		}
	})
	t.Run("Unsupported", func(t *testing.T) {
		// Codes no engine knows; and, for an engine with a fixed list, a
		// real pair outside it.
		unsupported := []translate.Pair{{From: "zz", To: "qq"}}
		if e.Pairs() != nil {
			unsupported = append(unsupported, translate.Pair{From: "zu", To: "xh"})
		}
		for _, p := range unsupported {
			if _, err := e.Translate(context.Background(), p, "Sawubona"); !errors.Is(err, translate.ErrUnsupported) {
				t.Errorf("pair %s: err = %v, want ErrUnsupported", p, err)
			}
		}
	})
	t.Run("TooLong", func(t *testing.T) {
		_, err := e.Translate(context.Background(), cases[0].Pair, strings.Repeat("word ", translate.MaxTextBytes))
		if !errors.Is(err, translate.ErrTooLong) {
			t.Fatalf("a text over MaxTextBytes: err = %v, want ErrTooLong", err)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		done := make(chan error, 1)
		go func() { _, err := e.Translate(ctx, cases[0].Pair, cases[0].Text); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled call: err = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled call did not return within 5 s")
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := cases[0]
				got, err := e.Translate(context.Background(), c.Pair, c.Text)
				if err == nil && (got == "" || (c.Want != "" && got != c.Want)) {
					err = errors.New("concurrent translation differs: " + got)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}
