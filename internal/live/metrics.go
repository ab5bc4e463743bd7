package live

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the manager's Prometheus series. Labels never carry session
// ids, owners or words.
type metrics struct {
	sessions     *prometheus.GaugeVec
	audioIn      prometheus.Counter
	audioDropped prometheus.Counter
	lag          prometheus.Histogram
	events       *prometheus.CounterVec
	feedsOpen    prometheus.Gauge
	feedsSlow    prometheus.Counter
	switches     *prometheus.CounterVec
}

// newMetrics registers on reg; a nil reg keeps them unregistered.
func newMetrics(reg prometheus.Registerer) *metrics {
	if r, ok := reg.(*prometheus.Registry); ok && r == nil {
		reg = nil // a nil *Registry in the interface: metrics off, not a panic
	}
	f := promauto.With(reg)
	return &metrics{
		sessions: f.NewGaugeVec(prometheus.GaugeOpts{Name: "izwi_live_sessions",
			Help: "Live-caption sessions held by this process, by state."}, []string{"state"}),
		audioIn: f.NewCounter(prometheus.CounterOpts{Name: "izwi_live_audio_in_seconds_total",
			Help: "Seconds of session audio that reached the session's owner."}),
		audioDropped: f.NewCounter(prometheus.CounterOpts{Name: "izwi_live_audio_dropped_seconds_total",
			Help: "Seconds of session audio dropped because recognition fell behind (on the bus or in the queue)."}),
		lag: f.NewHistogram(prometheus.HistogramOpts{Name: "izwi_live_recognizer_lag_seconds",
			Help:    "How far recognition trails the audio received, sampled each second per live session.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10}}),
		events: f.NewCounterVec(prometheus.CounterOpts{Name: "izwi_live_events_published_total",
			Help: "Caption-feed events published, by type."}, []string{"type"}),
		feedsOpen: f.NewGauge(prometheus.GaugeOpts{Name: "izwi_live_feeds_open",
			Help: "Viewer feeds open in this process."}),
		feedsSlow: f.NewCounter(prometheus.CounterOpts{Name: "izwi_live_feeds_slow_total",
			Help: "Viewer feeds closed because they fell behind."}),
		switches: f.NewCounterVec(prometheus.CounterOpts{Name: "izwi_live_engine_switches_total",
			Help: "Live sessions moved to another engine of the recognizer chain, by engines and reason."},
			[]string{"from", "to", "reason"}),
	}
}
