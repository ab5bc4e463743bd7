package engines

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
)

// joiner records the links it was given and serves with the first.
type joiner struct{ names []string }

func (j *joiner) Recognizers(l []Link[speech.Recognizer]) (speech.Recognizer, error) {
	for _, x := range l {
		j.names = append(j.names, x.Name)
	}
	return served{l[0].Engine}, nil
}

func (j *joiner) Transcribers(l []Link[speech.Transcriber]) (speech.Transcriber, error) {
	return nil, errors.New("not here")
}

// served is a recognizer that reports what a chain would serve.
type served struct{ speech.Recognizer }

func (served) Serving() map[string]int { return map[string]int{"pocketsphinx": 1, "second": 0} }

func psRegistry() *speech.Registry {
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	// A second registered name over the same engine: a two-link chain
	// without the network.
	reg.Recognizers.Register("second", func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Recognizer, error) {
		spec.Engine = pocketsphinx.Name
		return reg.Recognizers.New(ctx, spec, deps)
	})
	return reg
}

// A chain role loads each link with its own spec and hands them, in
// order, to the Chainer; /readyz shows what it serves; /metrics shows each
// link's streams and capacity.
func TestChainedRoleAndMetrics(t *testing.T) {
	c := config.Config{}.Defaults()
	c.Engines.ASR.Engine = "pocketsphinx,second"
	c.Engines.ASR.Options = map[string]string{"decoders": "3"}
	role := c.Engines.Named("asr", c.Engines.ASR)
	j := &joiner{}
	set, err := LoadChained(t.Context(), psRegistry(), speech.Deps{}, j, []config.NamedRole{role})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if strings.Join(j.names, ",") != "pocketsphinx,second" {
		t.Fatalf("links %v", j.names)
	}
	st := set.Status()
	if len(st) != 1 || st[0].Engine != "pocketsphinx,second" || st[0].Serving["pocketsphinx"] != 1 {
		t.Fatalf("status %+v", st)
	}
	s, err := set.Recognizer.NewStream(t.Context(), speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(set.Collector())
	got := gather(t, reg)
	for k, v := range map[string]float64{
		"izwi_engine_streams_in_use/pocketsphinx": 1, "izwi_engine_streams_capacity/pocketsphinx": 3,
		"izwi_engine_streams_in_use/second": 0, "izwi_engine_streams_capacity/second": 3,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// Without a Chainer a chain is refused, and the loaded links closed.
	if _, err := Load(t.Context(), psRegistry(), speech.Deps{}, []config.NamedRole{{Name: "asr", Role: role.Role, Links: role.Links}}); err != nil {
		t.Fatalf("an optional role must not stop the load: %v", err)
	}
	role.Required = true
	if _, err := Load(t.Context(), psRegistry(), speech.Deps{}, []config.NamedRole{role}); !errors.Is(err, errNoChainer) {
		t.Fatalf("a chain without a Chainer: %v", err)
	}
}

// gather reads the engine gauges as name/engine → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "engine" {
					out[mf.GetName()+"/"+l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}
