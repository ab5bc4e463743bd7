package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/config"
)

// Two upstreams: one lists its models in the config, the other is asked.
func TestRoutingAndModels(t *testing.T) {
	a := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return "from a" }})
	defer a.Close()
	b := chattest.New(chattest.Options{Models: []string{"b-1", "b-2"}, Reply: func(chattest.Request) string { return "from b" }})
	defer b.Close()
	cfg := chatConfig(t, "[chat]\ndefault = \"a\"\n[[chat.upstreams]]\nname = \"a\"\nbase_url = \""+a.BaseURL()+
		"\"\nmodels = [\"a-1\"]\n[[chat.upstreams]]\nname = \"b\"\nbase_url = \""+b.BaseURL()+"/\"\n")
	px := newProxy(t, Options{Config: cfg})
	ms, err := px.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.OwnedBy+"/"+m.ID)
	}
	if !slices.Equal(ids, []string{"a/a-1", "b/b-1", "b/b-2"}) {
		t.Errorf("models %v", ids)
	}
	for model, want := range map[string]string{"a-1": "from a", "b-2": "from b", "unlisted": "from a"} {
		var got strings.Builder
		if _, err := px.Stream(context.Background(), &caller, model, []Message{{Role: "user", Content: "hi"}},
			func(s string) error { got.WriteString(s); return nil }); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if got.String() != want {
			t.Errorf("model %s answered %q, want %q", model, got.String(), want)
		}
	}
	// b's model list was fetched once and cached.
	n := 0
	for _, r := range b.Requests() {
		if r.Path == "/v1/models" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("GET /models asked %d times, want 1 (cached)", n)
	}
}

// Stream (the in-process call converse uses) maps failures to catalogued
// errors and stops when delta fails.
func TestStreamErrors(t *testing.T) {
	up := chattest.New(chattest.Options{})
	cfg := chatConfig(t, oneUpstream(t, up, ""))
	px := newProxy(t, Options{Config: cfg})
	stop := errors.New("enough")
	calls := 0
	_, err := px.Stream(context.Background(), &caller, "test-model", []Message{{Role: "user", Content: "one two three four"}},
		func(string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("delta error: %v after %d calls", err, calls)
	}
	up.Close()
	_, err = px.Stream(context.Background(), &caller, "test-model", []Message{{Role: "user", Content: "x"}}, func(string) error { return nil })
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != apierr.CodeUpstreamUnavailable {
		t.Errorf("upstream down: %v", err)
	}
	_, err = px.Stream(context.Background(), &caller, "nope-model-x", nil, func(string) error { return nil })
	if !errors.As(err, &ae) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, tc := range map[string]struct{ toml, want string }{
		"http remote":   {"[[chat.upstreams]]\nname = \"x\"\nbase_url = \"http://example.com/v1\"\n", "must be https"},
		"credentials":   {"[[chat.upstreams]]\nname = \"x\"\nbase_url = \"https://u:p@example.com/v1\"\n", "without credentials"},
		"bad name":      {"[[chat.upstreams]]\nname = \"X Y\"\nbase_url = \"https://example.com/v1\"\n", "lower-case"},
		"dup name":      {"[[chat.upstreams]]\nname = \"x\"\nbase_url = \"https://a.example/v1\"\n[[chat.upstreams]]\nname = \"x\"\nbase_url = \"https://b.example/v1\"\n", "used twice"},
		"dup model":     {"[[chat.upstreams]]\nname = \"x\"\nbase_url = \"https://a.example/v1\"\nmodels = [\"m\"]\n[[chat.upstreams]]\nname = \"y\"\nbase_url = \"https://b.example/v1\"\nmodels = [\"m\"]\n", "already served"},
		"bad default":   {"[chat]\ndefault = \"nope\"\n", "names no upstream"},
		"tiny request":  {"[chat]\nmax_request_bytes = 10\n", "max_request_bytes"},
		"short timeout": {"[chat]\ntimeout = \"10ms\"\n", "chat.timeout"},
	} {
		c, err := config.Parse([]byte(tc.toml))
		if err == nil {
			err = c.Defaults().Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
	ok := "[[chat.upstreams]]\nname = \"lan\"\nbase_url = \"http://10.0.0.5:8080/v1\"\nallow_insecure = true\n" +
		"[[chat.upstreams]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n"
	c, err := config.Parse([]byte(ok))
	if err == nil {
		err = c.Defaults().Validate()
	}
	if err != nil {
		t.Errorf("allow_insecure and loopback refused: %v", err)
	}
	// One upstream from the environment alone, its key by the secret name.
	env := map[string]string{"IZWI_CHAT_UPSTREAM_URL": "https://api.example.com/v1", "IZWI_CHAT_UPSTREAM_NAME": "openai",
		"IZWI_CHAT_UPSTREAM_MODELS": "gpt-a, gpt-b", "IZWI_CHAT_DEFAULT": "openai"}
	got, _, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Chat.Upstreams) != 1 || got.Chat.Upstreams[0].Name != "openai" || !slices.Equal(got.Chat.Upstreams[0].Models, []string{"gpt-a", "gpt-b"}) ||
		got.Chat.Default != "openai" || got.Chat.Upstreams[0].SecretName() != "chat_openai_api_key" {
		t.Errorf("from env: %+v", got.Chat)
	}
	for _, v := range []string{"IZWI_CHAT_UPSTREAM_URL", "IZWI_CHAT_TIMEOUT", "IZWI_CHAT_MAX_REQUEST_BYTES"} {
		if !slices.Contains(config.EnvVars(), v) {
			t.Errorf("%s not in config.EnvVars()", v)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false}}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"tools":[]}`))
	f.Add([]byte(`{"model":"m","model":"n","messages":[{}]}`))
	f.Add([]byte(`{"model":"","messages":null,"stream":"x"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err != nil {
			return
		}
		// What is forwarded parses again to the same routing facts.
		again, err := parseRequest(r.body)
		if err != nil || again.model != r.model || again.stream != r.stream {
			t.Fatalf("re-encoded body differs: %v %q", err, r.body)
		}
		if r.stream && !bytes.Contains(r.body, []byte(`"include_usage":true`)) {
			t.Fatalf("stream without include_usage: %s", r.body)
		}
	})
}

func FuzzReadEvents(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"), int64(1<<20))
	f.Add([]byte(": keep-alive\r\n\r\ndata: a\r\ndata: b\r\n\r\n"), int64(100))
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}"), int64(10))
	f.Fuzz(func(t *testing.T, b []byte, limit int64) {
		var total int
		err := readEvents(bytes.NewReader(b), limit, func(ev event) error {
			total += len(ev.raw)
			if c, ok := parseChunk(ev.data); ok {
				_ = c.text()
				_ = c.usageOnly()
			}
			return nil
		})
		if err == nil && total != len(b) {
			t.Fatalf("events carried %d of %d bytes", total, len(b))
		}
		if err != nil && !errors.Is(err, errTooLarge) && err != io.ErrUnexpectedEOF {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// An upstream whose model list cannot be fetched is asked again only after
// a pause, and a good list is kept for models_ttl.
func TestModelDiscoveryCache(t *testing.T) {
	up := chattest.New(chattest.Options{Models: []string{"m1"}})
	defer up.Close()
	clock := clocktest.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	cfg := chatConfig(t, "[[chat.upstreams]]\nname = \"d\"\nbase_url = \""+up.BaseURL()+"\"\n")
	px := newProxy(t, Options{Config: cfg, Now: clock.Now})
	asks := func() int {
		n := 0
		for _, r := range up.Requests() {
			if r.Path == "/v1/models" {
				n++
			}
		}
		return n
	}
	for range 3 {
		if ms, err := px.Models(context.Background()); err != nil || len(ms) != 1 {
			t.Fatalf("models %v %v", ms, err)
		}
	}
	if asks() != 1 {
		t.Fatalf("asked %d times within the TTL", asks())
	}
	clock.Advance(cfg.ModelsTTL.Std() + time.Second)
	_, _ = px.Models(context.Background())
	if asks() != 2 {
		t.Fatalf("asked %d times after the TTL, want 2", asks())
	}
	down := chattest.New(chattest.Options{})
	cfg = chatConfig(t, "[[chat.upstreams]]\nname = \"d\"\nbase_url = \""+down.BaseURL()+"\"\n")
	down.Close()
	px = newProxy(t, Options{Config: cfg, Now: clock.Now})
	start := time.Now()
	for range 5 {
		if _, err := px.Models(context.Background()); err == nil {
			t.Fatal("no error from a down upstream")
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Error("each call waited on the down upstream")
	}
}
