package chat

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/logtest"
)

// Logs and metrics carry names, statuses, counts and durations: never the
// prompt, the answer or either key.
func TestNothingPrivateLogged(t *testing.T) {
	const prompt, reply = "my secret diagnosis is flu", "Rest and drink plenty of water."
	up := chattest.New(chattest.Options{Key: upstreamKey, Reply: func(chattest.Request) string { return reply }})
	defer up.Close()
	var logs logtest.Buffer
	reg := prometheus.NewRegistry()
	px := newProxy(t, Options{Config: chatConfig(t, oneUpstream(t, up, "")), Registerer: reg,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := client(t, izwi(t, px))
	if _, err := c.Chat.Completions.New(context.Background(), params(prompt)); err != nil {
		t.Fatal(err)
	}
	st := c.Chat.Completions.NewStreaming(context.Background(), params(prompt))
	for st.Next() {
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	// The proxy finishes its books (log line, metrics) after the last byte
	// has gone to the client: wait for the streamed call's to land.
	deadline := time.Now().Add(5 * time.Second)
	for (counter(t, px.metrics.requests.WithLabelValues("local", "true", "200")) < 1 ||
		counter(t, px.metrics.tokensC.WithLabelValues("local", "completion", "false")) < 12) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id":"req-test"`) || !strings.Contains(out, `"upstream":"local"`) || !strings.Contains(out, `"completion_tokens":6`) {
		t.Errorf("the log lacks the request id, upstream or token counts:\n%s", out)
	}
	for _, secret := range []string{"diagnosis", "flu", "Rest and drink", upstreamKey, callerKey} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	if n := counter(t, px.metrics.requests.WithLabelValues("local", "true", "200")); n != 1 {
		t.Errorf("streamed requests counted %v", n)
	}
	if n := counter(t, px.metrics.tokensC.WithLabelValues("local", "completion", "false")); n != 12 {
		t.Errorf("completion tokens counted %v, want 12", n)
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
