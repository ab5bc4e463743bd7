package live

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/izwi-speech/izwi/internal/config"
)

// TestOverflowDropsCountedInMetrics writes an utterance at once into a
// session whose queue holds 200 ms: audio is dropped, counted in the
// metrics, and no metric label names a session.
func TestOverflowDropsCountedInMetrics(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t), Now: e.clk.Now,
		Config: config.Live{QueueAudio: config.Duration(200 * time.Millisecond)}, Metrics: reg, TickEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true, PreRoll: ptr(0.0)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Watch(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, _ := m.Attach(t.Context(), "k", c.ID, "websocket")
	s := samples(t, utterance(t, pauseID))
	if err := in.Write(s); err != nil { // one call: 11.7 s, far beyond the queue
		t.Fatal(err)
	}
	// Audio is lost on the bus (the owner's pending limit) or in the
	// pipeline's queue; both are counted as dropped.
	var in0, dropped float64
	eventually(t, 60*time.Second, "drops counted", func() bool {
		m.tickOnce(t.Context())
		in0, dropped = counter(t, reg, "izwi_live_audio_in_seconds_total"), counter(t, reg, "izwi_live_audio_dropped_seconds_total")
		return dropped > 5 && in0 > 0
	})
	if total := float64(len(s)) / 16000; dropped > total+1 {
		t.Errorf("dropped %.1f s of %.1f s written", dropped, total)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if strings.HasPrefix(l.GetValue(), idPrefix) || l.GetValue() == "k" {
					t.Errorf("%s carries label %s=%q", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	for _, n := range []string{"izwi_live_sessions", "izwi_live_events_published_total", "izwi_live_feeds_open",
		"izwi_live_recognizer_lag_seconds", "izwi_live_feeds_slow_total"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	if g := gauge(t, reg, "izwi_live_sessions", "live"); g != 1 {
		t.Errorf("live sessions gauge %v", g)
	}
}

func find(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	var sum float64
	for _, m := range find(t, reg, name) {
		sum += m.GetCounter().GetValue()
	}
	return sum
}

func gauge(t *testing.T, reg *prometheus.Registry, name, state string) float64 {
	for _, m := range find(t, reg, name) {
		for _, l := range m.GetLabel() {
			if l.GetValue() == state {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// A nil registry (a nil *Registry inside the interface, or a nil
// interface) means metrics off: nothing is registered anywhere — above all
// not on Prometheus's global default registry, which would leak series into
// any process embedding the package — while the collectors still count, so
// code that updates them needs no nil checks. The same constructor with a
// real registry registers every series, which is what makes "nothing" here
// mean something.
func TestNilRegistryMeansNoMetrics(t *testing.T) {
	liveFamilies := func(g prometheus.Gatherer) []string {
		t.Helper()
		fams, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range fams {
			if strings.HasPrefix(f.GetName(), "izwi_live_") {
				names = append(names, f.GetName())
			}
		}
		return names
	}
	before := liveFamilies(prometheus.DefaultGatherer)
	var typedNil *prometheus.Registry
	for name, reg := range map[string]prometheus.Registerer{"typed nil": typedNil, "nil interface": nil} {
		m := newMetrics(reg)
		m.feedsOpen.Inc()
		m.events.WithLabelValues(string(TypeCaption)).Inc()
		m.sessions.WithLabelValues("live").Set(2)
		var d dto.Metric
		if err := m.feedsOpen.Write(&d); err != nil || d.GetGauge().GetValue() != 1 {
			got := d.GetGauge().GetValue()
			t.Errorf("%s: feedsOpen counts %v in process, want 1", name, got)
		}
		if got := liveFamilies(prometheus.DefaultGatherer); len(got) != len(before) {
			t.Errorf("%s: the default registry gained %v", name, got)
		}
	}
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.events.WithLabelValues(string(TypeCaption)).Inc()
	m.sessions.WithLabelValues("live").Set(1)
	// Every series of the struct is registered on a real registry (the
	// vectors appear once they have a label value).
	if got := liveFamilies(reg); len(got) != 7 {
		t.Errorf("a real registry got %d live series %v, want 7", len(got), got)
	}
}
