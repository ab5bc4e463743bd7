package chatmt

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/translate"
)

// reported is the usage the double reports for a request and its reply
// (chattest's documented count: words plus one per message, and the
// reply's words).
func reported(r chattest.Request, reply string) int64 {
	n := len(strings.Fields(reply))
	for _, m := range r.Messages {
		n += 1 + len(strings.Fields(m.Content))
	}
	return int64(n)
}

func calls(t *testing.T, reg *prometheus.Registry, engine, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "izwi_translate_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["engine"] == engine && got["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The session's owner, named by translate.WithPayer, pays for its
// translations through the chat proxy's quota path: its chat-token usage
// rises by what the upstream reports; an owner at its daily chat-token
// limit gets the source text (and a metric), never nothing; a session
// with no owner (the console's) is charged to no one.
func TestOwnerPaysThroughChatQuota(t *testing.T) {
	ctx := context.Background()
	// A long answer, so the upstream's reported usage exceeds the proxy's
	// up-front reservation (about a token per four prompt bytes, never
	// refunded) and the charge is exactly what the upstream reported.
	long := strings.TrimSpace(strings.Repeat("buenos días ", 30))
	up := chattest.New(chattest.Options{Reply: func(r chattest.Request) string {
		if len(r.Messages) == 2 && r.Messages[1].Content == "Good morning, everyone." {
			return long
		}
		return spanish(r)
	}})
	defer up.Close()
	poor := auth.Principal{Subject: "key:poor"}
	lim, err := limit.New(ctx, limit.Options{Defaults: limit.Limits{ChatTokensPerDay: 10000},
		Resolve: func(_ context.Context, p auth.Principal) (limit.Overrides, error) {
			if p.Subject == poor.Subject {
				return limit.Overrides{Limits: limit.Limits{ChatTokensPerDay: 5}}, nil
			}
			return limit.Overrides{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Chat: proxyFor(t, up, lim), Model: "test-model"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := translate.NewService(translate.Options{Engines: []translate.Engine{e}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p := translate.Pair{From: "en", To: "es"}
	used := func(subject string) int64 {
		t.Helper()
		u, err := lim.Usage(ctx, auth.Principal{Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		return u.Used.ChatTokens
	}

	r := s.Translate(translate.WithPayer(ctx, "key:owner"), p, "Good morning, everyone.")
	if r.Text != long || r.Lang != "es" || r.Err != nil {
		t.Fatalf("owner's translation = %+v", r)
	}
	reqs := up.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream requests = %d, want 1", len(reqs))
	}
	if got, want := used("key:owner"), reported(reqs[0], r.Text); got != want {
		t.Errorf("owner's chat tokens = %d, want the %d the upstream reported", got, want)
	}

	// A console session: no payer, nobody charged.
	before := used("key:owner")
	if r := s.Translate(ctx, p, "Hello there."); r.Lang != "es" || r.Err != nil {
		t.Fatalf("console translation = %+v", r)
	}
	if got := used("key:owner"); got != before {
		t.Errorf("a session without an owner charged key:owner %d tokens", got-before)
	}

	// An owner at its daily limit: the source text, no upstream call.
	if err := lim.Charge(ctx, poor, 5); err != nil {
		t.Fatal(err)
	}
	n := len(up.Requests())
	r = s.Translate(translate.WithPayer(ctx, poor.Subject), p, "Good evening.")
	if r.Text != "Good evening." || r.Lang != "en" || !errors.Is(r.Err, translate.ErrOverQuota) {
		t.Fatalf("over-quota owner's result = %+v, want the source text in en, ErrOverQuota", r)
	}
	if len(up.Requests()) != n {
		t.Errorf("an over-quota owner's caption reached the upstream")
	}
	if got := calls(t, reg, "chat", "over_quota"); got != 1 {
		t.Errorf(`izwi_translate_calls_total{engine="chat",outcome="over_quota"} = %v, want 1`, got)
	}
	if got := used(poor.Subject); got != 5 {
		t.Errorf("over-quota owner's chat tokens = %d, want 5 (nothing more)", got)
	}
}
