package engines

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/speech"
)

// counted is one engine whose streams /metrics reports.
type counted struct {
	role, engine string
	counter      speech.StreamCounter // nil: in use comes from the role's chain
}

var (
	descInUse = prometheus.NewDesc("izwi_engine_streams_in_use",
		"Recognition streams open now, per role and engine (a chain's cloud engine counts the sessions it serves).",
		[]string{"role", "engine"}, nil)
	descCapacity = prometheus.NewDesc("izwi_engine_streams_capacity",
		"Streams an engine can have open at once (its decoder pool); absent when it has no fixed bound.",
		[]string{"role", "engine"}, nil)
)

// Collector reports the loaded engines' streams in use and capacity. Its
// labels name roles and engines only.
func (s *Set) Collector() prometheus.Collector { return setCollector{s} }

type setCollector struct{ s *Set }

func (c setCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descInUse
	ch <- descCapacity
}

func (c setCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range c.s.Streams() {
		ch <- prometheus.MustNewConstMetric(descInUse, prometheus.GaugeValue, float64(u.InUse), u.Role, u.Engine)
		if u.Capacity > 0 {
			ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(u.Capacity), u.Role, u.Engine)
		}
	}
}

// StreamUse is one engine's recognition streams: open now and its bound
// (0: no fixed bound, a cloud engine).
type StreamUse struct {
	Role     string `json:"role"`
	Engine   string `json:"engine"`
	InUse    int    `json:"in_use"`
	Capacity int    `json:"capacity"`
}

// Streams reports the loaded recognition engines' streams (/metrics and
// the console's capacity figures).
func (s *Set) Streams() []StreamUse {
	serving := map[string]map[string]int{}
	for _, st := range s.Status() {
		if st.Serving != nil {
			serving[st.Role] = st.Serving
		}
	}
	var out []StreamUse
	for _, e := range s.counted {
		if e.counter == nil {
			if n, ok := serving[e.role][e.engine]; ok {
				out = append(out, StreamUse{Role: e.role, Engine: e.engine, InUse: n})
			}
			continue
		}
		inUse, capacity := e.counter.Streams()
		out = append(out, StreamUse{Role: e.role, Engine: e.engine, InUse: inUse, Capacity: capacity})
	}
	return out
}

// count records the engines of role whose streams /metrics reports.
func (s *Set) count(role string, links []Link[speech.Recognizer]) {
	for _, l := range links {
		sc, _ := l.Engine.(speech.StreamCounter)
		s.counted = append(s.counted, counted{role: role, engine: l.Name, counter: sc})
	}
}
