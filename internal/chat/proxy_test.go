package chat

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/limit"
)

func params(text string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "test-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage(text)}}
}

func newLimiter(t *testing.T, l limit.Limits) *limit.Limiter {
	t.Helper()
	lim, err := limit.New(context.Background(), limit.Options{Defaults: l, Now: clocktest.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)).Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close(context.Background()) })
	return lim
}

func usedTokens(t *testing.T, lim *limit.Limiter) int64 {
	t.Helper()
	u, err := lim.Usage(context.Background(), caller)
	if err != nil {
		t.Fatal(err)
	}
	return u.Used.ChatTokens
}

// settledTokens is usedTokens once it satisfies ok, polled for up to 5 s:
// the proxy charges the rest of a call's usage after the last byte has
// gone to the client, so the client can finish first.
func settledTokens(t *testing.T, lim *limit.Limiter, ok func(int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := usedTokens(t, lim)
		if ok(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOpenAIClientNonStreaming(t *testing.T) {
	up := chattest.New(chattest.Options{Key: upstreamKey})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	c := client(t, izwi(t, px))
	res, err := c.Chat.Completions.New(context.Background(), params("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0].Message.Content; got != "You said: hello there." {
		t.Errorf("content %q", got)
	}
	// chattest counts words + 1 per message: prompt 3+3, completion 4.
	if res.Usage.PromptTokens != 6 || res.Usage.CompletionTokens != 4 || res.Usage.TotalTokens != 10 {
		t.Errorf("usage %+v", res.Usage)
	}
	if got := settledTokens(t, lim, func(v int64) bool { return v == 10 }); got != 10 {
		t.Errorf("charged %d tokens, want 10", got)
	}
	assertNoCallerKey(t, up)
}

func TestOpenAIClientStreaming(t *testing.T) {
	up := chattest.New(chattest.Options{Key: upstreamKey})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	c := client(t, izwi(t, px))
	for _, wantUsage := range []bool{false, true} {
		p := params("stream these words to me")
		if wantUsage {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		st := c.Chat.Completions.NewStreaming(context.Background(), p)
		var text strings.Builder
		chunks, usageChunks := 0, 0
		var total int64
		for st.Next() {
			ch := st.Current()
			chunks++
			if len(ch.Choices) == 0 {
				usageChunks++
				total = ch.Usage.TotalTokens
				continue
			}
			text.WriteString(ch.Choices[0].Delta.Content)
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if text.String() != "You said: stream these words to me." {
			t.Errorf("streamed %q", text.String())
		}
		if chunks < 8 {
			t.Errorf("only %d chunks: the stream was not passed through chunk by chunk", chunks)
		}
		switch {
		case wantUsage && (usageChunks != 1 || total != 16):
			t.Errorf("include_usage: %d usage chunks, total %d; want 1 with 16", usageChunks, total)
		case !wantUsage && usageChunks != 0:
			t.Errorf("the usage chunk Izwi asked for reached a caller who did not ask")
		}
	}
	// The upstream was always asked for usage, so both calls are charged exactly.
	if got := settledTokens(t, lim, func(v int64) bool { return v == 2*16 }); got != 2*16 {
		t.Errorf("charged %d tokens, want %d", got, 2*16)
	}
	for _, r := range up.Requests() {
		if !r.Stream || !r.IncludeUsage {
			t.Errorf("upstream request stream=%v include_usage=%v", r.Stream, r.IncludeUsage)
		}
	}
	assertNoCallerKey(t, up)
}

// An upstream that reports no usage is charged an estimate.
func TestUsageEstimated(t *testing.T) {
	up := chattest.New(chattest.Options{OmitUsage: true, Reply: func(chattest.Request) string { return strings.Repeat("word ", 100) }})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	c := client(t, izwi(t, px))
	if _, err := c.Chat.Completions.New(context.Background(), params("hi")); err != nil {
		t.Fatal(err)
	}
	st := c.Chat.Completions.NewStreaming(context.Background(), params("hi"))
	for st.Next() {
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	// 499 bytes of completion ≈ 125 tokens each time, plus the prompt.
	if got := settledTokens(t, lim, func(v int64) bool { return v >= 2*125 }); got < 2*125 || got > 2*200 {
		t.Errorf("estimated %d tokens for two 100-word answers", got)
	}
}

func TestTokenRateLimit(t *testing.T) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{ChatTokensPerSecond: 5})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	px.chargeWait = 0 // the limiter's clock is frozen: waiting would not refill it
	c := client(t, izwi(t, px))
	// The first call reserves its prompt's 5 tokens, emptying a 5-token
	// bucket; the clock is frozen, so the next call is refused before the
	// upstream.
	if _, err := c.Chat.Completions.New(context.Background(), params("hello there")); err != nil {
		t.Fatal(err)
	}
	before := len(up.Requests())
	_, err := c.Chat.Completions.New(context.Background(), params("again"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Code != "rate_limited" {
		t.Fatalf("second call: %v, want 429 rate_limited", err)
	}
	if ra := ae.Response.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if len(up.Requests()) != before {
		t.Error("a refused call still reached the upstream")
	}
}

func TestDailyTokenQuota(t *testing.T) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{ChatTokensPerDay: 15})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	c := client(t, izwi(t, px))
	if _, err := c.Chat.Completions.New(context.Background(), params("hello there")); err != nil {
		t.Fatal(err)
	}
	// 10 used; the next answer (10 more) passes 15 while it is made: it is
	// delivered and the day is charged to its limit, so the third is refused.
	if _, err := c.Chat.Completions.New(context.Background(), params("hello there")); err != nil {
		t.Fatal(err)
	}
	if got := settledTokens(t, lim, func(v int64) bool { return v == 15 }); got != 15 {
		t.Errorf("used %d tokens, want the quota's 15", got)
	}
	_, err := c.Chat.Completions.New(context.Background(), params("hello there"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Code != "quota_exceeded" || ae.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("third call: %v, want 429 quota_exceeded with Retry-After", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	up := chattest.New(chattest.Options{})
	cfg := chatConfig(t, oneUpstream(t, up, ""))
	up.Close() // nothing listens there now
	c := client(t, izwi(t, newProxy(t, Options{Config: cfg})))
	_, err := c.Chat.Completions.New(context.Background(), params("anyone there"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadGateway || ae.Code != "upstream_unavailable" {
		t.Fatalf("got %v, want 502 upstream_unavailable", err)
	}
	st := c.Chat.Completions.NewStreaming(context.Background(), params("anyone there"))
	for st.Next() {
	}
	if !errors.As(st.Err(), &ae) || ae.StatusCode != http.StatusBadGateway {
		t.Fatalf("streaming: %v, want 502", st.Err())
	}
}

func TestUpstreamTimeout(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	up := chattest.New(chattest.Options{BeforeChunk: func(ctx context.Context, i int) error {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return errors.New("held")
	}})
	defer up.Close()
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, `timeout = "1s"`))})
	c := client(t, izwi(t, px))
	st := c.Chat.Completions.NewStreaming(context.Background(), params("slow"))
	for st.Next() {
	}
	if err := st.Err(); err == nil || !strings.Contains(err.Error(), "upstream_timeout") {
		t.Fatalf("stream error %v, want an upstream_timeout error event", err)
	}
}

func TestOversize(t *testing.T) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	c := client(t, izwi(t, newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "max_request_bytes = 2048"))})))
	_, err := c.Chat.Completions.New(context.Background(), params(strings.Repeat("long ", 1000)))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusRequestEntityTooLarge || ae.Code != "payload_too_large" {
		t.Fatalf("got %v, want 413 payload_too_large", err)
	}
	if len(up.Requests()) != 0 {
		t.Error("an oversize request reached the upstream")
	}
}

// A response over max_response_bytes is cut off with an error, not passed on.
func TestResponseTooLarge(t *testing.T) {
	up := chattest.New(chattest.Options{WordsPerChunk: 50, Reply: func(chattest.Request) string { return strings.Repeat("blah ", 1000) }})
	defer up.Close()
	c := client(t, izwi(t, newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "max_response_bytes = 2048"))})))
	_, err := c.Chat.Completions.New(context.Background(), params("talk"))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadGateway || ae.Code != "upstream_error" {
		t.Fatalf("got %v, want 502 upstream_error", err)
	}
	st := c.Chat.Completions.NewStreaming(context.Background(), params("talk"))
	n := 0
	for st.Next() {
		n++
	}
	if st.Err() == nil || !strings.Contains(st.Err().Error(), "upstream_error") {
		t.Fatalf("stream ended with %v after %d chunks, want an upstream_error event", st.Err(), n)
	}
}

func TestUpstreamErrorsMapped(t *testing.T) {
	for _, tc := range []struct {
		status   int
		wantHTTP int
		wantCode string
	}{
		{400, 400, "bad_request"},
		{422, 400, "bad_request"},
		{404, 404, "not_found"},
		{429, 429, "rate_limited"},
		{401, 502, "upstream_error"},
		{500, 502, "upstream_error"},
		{503, 502, "upstream_error"},
	} {
		up := chattest.New(chattest.Options{Status: tc.status, ErrorMessage: "bad things; key sk-leakedkey12345 \x1b[31m and\nmore"})
		c := client(t, izwi(t, newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, ""))})))
		_, err := c.Chat.Completions.New(context.Background(), params("x"))
		up.Close()
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != tc.wantHTTP || ae.Code != tc.wantCode {
			t.Errorf("upstream %d: got %v, want %d %s", tc.status, err, tc.wantHTTP, tc.wantCode)
			continue
		}
		if strings.Contains(ae.Message, "sk-leaked") || strings.ContainsAny(ae.Message, "\x1b\n") {
			t.Errorf("upstream %d: unsanitized message %q", tc.status, ae.Message)
		}
		if tc.status == 400 && !strings.Contains(ae.Message, "bad things") {
			t.Errorf("upstream 400: message %q lost the upstream's reason", ae.Message)
		}
	}
}

// Closing the client's stream cancels the upstream request.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	up := chattest.New(chattest.Options{BeforeChunk: func(ctx context.Context, i int) error {
		if i < 2 {
			return nil
		}
		select {
		case <-hold:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	defer up.Close()
	c := client(t, izwi(t, newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, ""))})))
	ctx, cancel := context.WithCancel(context.Background())
	st := c.Chat.Completions.NewStreaming(ctx, params("go on and on"))
	for i := 0; i < 2 && st.Next(); i++ {
	}
	cancel()
	_ = st.Close()
	waitFor(t, "the upstream to see the cancellation", func() bool { return up.Canceled() == 1 })
}

func TestBadRequests(t *testing.T) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	srv := izwi(t, newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, ""))}))
	for name, tc := range map[string]struct {
		ctype, body string
		status      int
	}{
		"form":          {"application/x-www-form-urlencoded", "model=x", 415},
		"not json":      {"application/json", "{", 400},
		"array":         {"application/json", "[]", 400},
		"no model":      {"application/json", `{"messages":[{"role":"user","content":"x"}]}`, 400},
		"no messages":   {"application/json", `{"model":"test-model","messages":[]}`, 400},
		"dup model":     {"application/json", `{"model":"test-model","model":"other","messages":[{"role":"user","content":"x"}]}`, 400},
		"stream string": {"application/json", `{"model":"test-model","stream":"yes","messages":[{"role":"user","content":"x"}]}`, 400},
		"trailing":      {"application/json", `{"model":"test-model","messages":[{"role":"user","content":"x"}]} {}`, 400},
		"unknown model": {"application/json", `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, 404},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		req.Header.Set("Authorization", "Bearer "+callerKey)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.status)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
}

// Quotas are atomic: parallel calls against a daily quota cannot all pass
// a check and then all spend; each reserves its prompt first.
func TestParallelQuotaAtomic(t *testing.T) {
	up := chattest.New(chattest.Options{})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{ChatTokensPerDay: 20})
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Limiter: lim})
	c := client(t, izwi(t, px))
	const n = 30
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Chat.Completions.New(context.Background(), params("hello there")) // reserves 5
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		var ae *openai.Error
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.Code != "quota_exceeded":
			t.Errorf("refusal %v, want 429 quota_exceeded", err)
		}
	}
	if ok < 1 || ok > 4 {
		t.Errorf("%d of %d calls ran against a 20-token quota with 5-token prompts; want 1..4", ok, n)
	}
	if used := usedTokens(t, lim); used > 20 {
		t.Errorf("charged %d tokens past a quota of 20", used)
	}
	if got := len(up.Requests()); got != ok {
		t.Errorf("%d calls reached the upstream, %d succeeded", got, ok)
	}
}
