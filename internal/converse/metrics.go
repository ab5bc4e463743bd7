package converse

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the endpoint's instruments; no labels, so nothing personal
// can reach them. A nil *metrics records nothing.
type metrics struct {
	latency  prometheus.Histogram
	bargeIns prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "izwi_converse_turn_latency_seconds",
			Help:    "Voice conversation turns: from the arrival of the user's last word to the first reply audio byte sent.",
			Buckets: []float64{.1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10},
		}),
		bargeIns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "izwi_converse_barge_ins_total", Help: "Replies stopped because the user spoke over them.",
		}),
	}
	for _, c := range []prometheus.Collector{m.latency, m.bargeIns} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("converse: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}

func (m *metrics) bargeIn() {
	if m != nil {
		m.bargeIns.Inc()
	}
}
