package sherpa

import (
	"testing"

	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

// BenchmarkStreamMemory reports the private memory each extra live stream
// of one recognizer adds once it has decoded speech, over 16 streams
// (issue 14: ≤ 2 MiB per extra stream; the streams share the
// recognizer's model). The figure is for the model the test resolves (the
// generated one unless a real model is installed), so it measures
// per-stream state and buffers, not the model.
func BenchmarkStreamMemory(b *testing.B) {
	rec := asrOnline(b, DefaultASROptions())
	samples := asrSpeech(b, 1)
	for range b.N {
		_, extra := speechtest.StreamMemory(b, rec, samples, 16, speechtest.RSSAnonKiB(b))
		b.ReportMetric(extra, "MiB-anon/extra-stream")
	}
}
