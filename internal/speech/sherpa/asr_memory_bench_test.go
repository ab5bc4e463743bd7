package sherpa

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// BenchmarkStreamMemory reports the private memory (anonymous RSS) each
// extra live stream of one recognizer adds once it has decoded speech,
// from 16 streams fed the same audio (issue 14: ≤ 2 MiB per extra
// stream; the streams share the recognizer's model). The figure is for
// the model the test resolves (the generated one unless a real model is
// installed), so it measures per-stream state and buffers, not the model.
func BenchmarkStreamMemory(b *testing.B) {
	const n = 16
	rec := asrOnline(b, DefaultASROptions())
	samples := asrSpeech(b, 1)
	for range b.N {
		var sts []speech.Stream
		var first int
		for i := range n {
			st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Accept(context.Background(), samples); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			sts = append(sts, st)
			if i == 0 {
				runtime.GC()
				first = rssAnonKiB(b)
			}
		}
		runtime.GC()
		b.ReportMetric(float64(rssAnonKiB(b)-first)/1024/(n-1), "MiB-anon/extra-stream")
		for _, st := range sts {
			st.Close()
		}
	}
}

// rssAnonKiB is the process's anonymous resident memory.
func rssAnonKiB(b *testing.B) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	b.Fatal("/proc/self/status has no RssAnon")
	return 0
}
