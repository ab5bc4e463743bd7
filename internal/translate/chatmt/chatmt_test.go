package chatmt

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/translate"
	"github.com/izwi-speech/izwi/internal/translate/translatetest"
)

// spanish answers like a model told to translate into Spanish: the double
// checks what it was asked, as a real model would read it.
func spanish(r chattest.Request) string {
	if len(r.Messages) != 2 || !strings.Contains(r.Messages[0].Content, "into Spanish") {
		return "I was not asked to translate into Spanish."
	}
	switch r.Messages[1].Content {
	case "Good morning, everyone.":
		return "Buenos días a todos."
	}
	return "Traducción: " + r.Messages[1].Content
}

// charges counts what the proxy charged, per subject (a limit.Limiter's
// contract, without its database).
type charges struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *charges) Charge(_ context.Context, p auth.Principal, tokens int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[p.Subject] += tokens
	return nil
}

func (c *charges) Usage(context.Context, auth.Principal) (limit.Usage, error) {
	return limit.Usage{}, nil
}

func proxyFor(t *testing.T, up *chattest.Server, lim chat.Charger) *chat.Proxy {
	t.Helper()
	c, err := config.Parse([]byte("[chat]\n[[chat.upstreams]]\nname = \"local\"\nbase_url = \"" + up.BaseURL() + "\"\nmodels = [\"test-model\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	px, err := chat.NewProxy(chat.Options{Config: c.Chat, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	return px
}

func TestConformance(t *testing.T) {
	up := chattest.New(chattest.Options{Reply: spanish})
	defer up.Close()
	lim := &charges{n: map[string]int64{}}
	who := &auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1"}
	e, err := New(Options{Chat: proxyFor(t, up, lim), Model: "test-model", Principal: who})
	if err != nil {
		t.Fatal(err)
	}
	translatetest.Run(t, e, []translatetest.Case{
		{Pair: translate.Pair{From: "en", To: "es"}, Text: "Good morning, everyone.", Want: "Buenos días a todos."},
	})
	reqs := up.Requests()
	if len(reqs) == 0 || reqs[0].Model != "test-model" || !reqs[0].Stream {
		t.Fatalf("upstream requests: %+v", reqs)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if lim.n["key:k1"] <= 0 {
		t.Errorf("no chat tokens charged to the session owner: %v", lim.n)
	}
}

// An upstream that fails: the engine says unavailable, and the service
// shows the source text (in the source language) rather than nothing.
func TestUpstreamFailureShowsSource(t *testing.T) {
	up := chattest.New(chattest.Options{Status: http.StatusServiceUnavailable, ErrorMessage: "overloaded"})
	defer up.Close()
	e, err := New(Options{Chat: proxyFor(t, up, nil), Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	p := translate.Pair{From: "en", To: "es"}
	if _, err := e.Translate(context.Background(), p, "Good morning."); !errors.Is(err, translate.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	s, err := translate.NewService(translate.Options{Engines: []translate.Engine{e}})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Translate(context.Background(), p, "Good morning.")
	if r.Text != "Good morning." || r.Lang != "en" || r.Err == nil {
		t.Fatalf("result = %+v, want the source text in en with the error", r)
	}
}
