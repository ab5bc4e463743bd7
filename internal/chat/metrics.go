package chat

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's instruments. Labels are the upstream's configured
// name, stream or not, and the status: never a model a caller typed, a key
// or content. A nil *metrics records nothing.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokensC  *prometheus.CounterVec
	chunks   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "izwi_chat_requests_total", Help: "Chat completions proxied, by upstream, streaming and HTTP status.",
		}, []string{"upstream", "stream", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "izwi_chat_request_duration_seconds", Help: "Whole chat completion time through the proxy, by upstream and streaming.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"upstream", "stream"}),
		tokensC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "izwi_chat_tokens_total", Help: "Chat tokens charged, by upstream, kind (prompt, completion) and whether estimated.",
		}, []string{"upstream", "kind", "estimated"}),
		chunks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "izwi_chat_stream_events_total", Help: "Server-Sent Events passed through from chat upstreams.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.tokensC, m.chunks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("chat: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) request(upstream string, stream bool, status int, d time.Duration) {
	if m == nil {
		return
	}
	s := strconv.FormatBool(stream)
	m.requests.WithLabelValues(upstream, s, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(upstream, s).Observe(d.Seconds())
}

func (m *metrics) tokens(upstream string, u Usage) {
	if m == nil {
		return
	}
	e := strconv.FormatBool(u.Estimated)
	m.tokensC.WithLabelValues(upstream, "prompt", e).Add(float64(max(u.PromptTokens, 0)))
	m.tokensC.WithLabelValues(upstream, "completion", e).Add(float64(max(u.CompletionTokens, 0)))
}

func (m *metrics) chunk() {
	if m != nil {
		m.chunks.Inc()
	}
}
