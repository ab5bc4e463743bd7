package translate

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// payerQuota is an engine that refuses payer "key:broke", after hold.
type payerQuota struct {
	entered chan struct{}
	hold    chan struct{}
}

func (*payerQuota) Name() string  { return "chat" }
func (*payerQuota) Pairs() []Pair { return nil }
func (e *payerQuota) Translate(ctx context.Context, p Pair, text string) (string, error) {
	if Payer(ctx) != "key:broke" {
		return "es:" + text, nil
	}
	select {
	case e.entered <- struct{}{}:
	default:
	}
	<-e.hold
	return "", ErrOverQuota
}

// A payer over quota does not make another payer's viewers see the source
// text: each payer has its own flight (the cache of answers is shared).
func TestPayersDoNotShareRefusals(t *testing.T) {
	e := &payerQuota{entered: make(chan struct{}, 1), hold: make(chan struct{})}
	s, _ := NewService(Options{Engines: []Engine{e}})
	broke := make(chan Result, 1)
	go func() { broke <- s.Translate(WithPayer(context.Background(), "key:broke"), enes, "x") }()
	<-e.entered // the broke payer's call is in flight
	// A guard, not a timing: sharing the broke payer's flight would wait
	// for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := s.Translate(WithPayer(ctx, "key:rich"), enes, "x"); r.Text != "es:x" || r.Err != nil {
		t.Errorf("the other payer's result %+v, want its own translation", r)
	}
	close(e.hold)
	if r := <-broke; r.Text != "x" || r.Lang != "en" || !errors.Is(r.Err, ErrOverQuota) {
		t.Errorf("over-quota result %+v, want the source text and ErrOverQuota", r)
	}
	// The answer another payer paid for is shared.
	if r := s.Translate(WithPayer(context.Background(), "key:broke"), enes, "x"); r.Text != "es:x" || r.Engine != "cache" {
		t.Errorf("cached result for the broke payer %+v", r)
	}
}
