package translate

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// stub is an engine that upper-cases, counts calls and can be made to fail
// or hold.
type stub struct {
	name  string
	pairs []Pair
	fail  bool
	hold  chan struct{}
	calls atomic.Int32
}

func (s *stub) Name() string  { return s.name }
func (s *stub) Pairs() []Pair { return s.pairs }
func (s *stub) Translate(ctx context.Context, p Pair, text string) (string, error) {
	s.calls.Add(1)
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if s.fail {
		return "", ErrUnavailable
	}
	return s.name + ":" + text, nil
}

var enes = Pair{From: "en", To: "es"}

func TestServiceFallsBackInOrder(t *testing.T) {
	first := &stub{name: "a", pairs: []Pair{enes}, fail: true}
	second := &stub{name: "b"}
	s, err := NewService(Options{Engines: []Engine{first, second}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Translate(context.Background(), enes, "hi"); r.Text != "b:hi" || r.Lang != "es" || r.Err != nil {
		t.Fatalf("result %+v, want the second engine's", r)
	}
	// Cached: neither engine is asked again.
	if r := s.Translate(context.Background(), enes, "hi"); r.Text != "b:hi" || first.calls.Load() != 1 || second.calls.Load() != 1 {
		t.Fatalf("result %+v after %d/%d calls: not cached", r, first.calls.Load(), second.calls.Load())
	}
	second.fail = true
	if r := s.Translate(context.Background(), enes, "bye"); r.Text != "bye" || r.Lang != "en" || !errors.Is(r.Err, ErrUnavailable) {
		t.Fatalf("all failing: %+v, want the source text", r)
	}
}

func TestServiceSharesOneCall(t *testing.T) {
	e := &stub{name: "a", hold: make(chan struct{})}
	s, _ := NewService(Options{Engines: []Engine{e}})
	var wg sync.WaitGroup
	out := make(chan Result, 8)
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); out <- s.Translate(context.Background(), enes, "x") }()
	}
	for e.calls.Load() == 0 {
		runtime.Gosched() // until the one call is in flight
	}
	close(e.hold)
	wg.Wait()
	close(out)
	for r := range out {
		if r.Text != "a:x" {
			t.Fatalf("result %+v", r)
		}
	}
	if n := e.calls.Load(); n > 2 { // a caller arriving after the first finished hits the cache
		t.Fatalf("%d engine calls for one text", n)
	}
}

func TestCheck(t *testing.T) {
	s, _ := NewService(Options{Engines: []Engine{&stub{name: "a", pairs: []Pair{enes, {From: "en", To: "ca"}}}}})
	got, err := s.Check("en-US", []string{"ES", "spa", "ca", "en"})
	if err != nil || len(got) != 2 || got[0] != "es" || got[1] != "ca" {
		t.Fatalf("Check = %v, %v", got, err)
	}
	var ue *UnsupportedError
	if _, err := s.Check("en", []string{"fr"}); !errors.As(err, &ue) || ue.Targets[0] != "fr" {
		t.Fatalf("unserved target: %v", err)
	}
	if _, err := s.Check("en", []string{"klingon"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown code: %v", err)
	}
}

func FuzzNormLang(f *testing.F) {
	for _, s := range []string{"en", "ES", "spa", "pt-BR", "zz", "", "eng_US"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := NormLang(s)
		if ok && (len(c) != 2 || LangName(c) == "") {
			t.Fatalf("NormLang(%q) = %q", s, c)
		}
	})
}
