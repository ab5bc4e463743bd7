package identify

import (
	"context"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
)

// BenchmarkRemoteEmbed: one tracker window (2 s) embedded in process and
// through an identifier on the embedded bus (the generated speaker model);
// remote/local is the cost of the round trip a worker without a speaker
// engine pays per window.
func BenchmarkRemoteEmbed(b *testing.B) {
	local := sherpatest.Embedder(b)
	nc := embeddedBusB(b)
	srv, err := Serve(context.Background(), nc, local, Config{Model: sherpatest.SpeakerModel}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	remote, err := Discover(context.Background(), nc)
	if err != nil {
		b.Fatal(err)
	}
	window := make([]float32, 2*local.SampleRate())
	for i := range window {
		window[i] = float32(i%97)/97 - 0.5
	}
	per := map[string]time.Duration{}
	for _, c := range []struct {
		name string
		emb  speech.Embedder
	}{{"local", local}, {"remote", remote}} {
		b.Run(c.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if _, err := c.emb.Embed(context.Background(), window); err != nil {
					b.Fatal(err)
				}
			}
			per[c.name] = time.Since(start) / time.Duration(b.N)
			if c.name == "remote" && per["local"] > 0 {
				b.ReportMetric(float64(per["remote"])/float64(per["local"]), "remote/local")
			}
		})
	}
}
