package speechtest

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

// RSSAnonKiB is the process's anonymous resident memory (its private
// memory, engines' native heaps included), after a garbage collection.
func RSSAnonKiB(t testing.TB) int {
	t.Helper()
	runtime.GC()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("reading /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("/proc/self/status has no RssAnon")
	return 0
}

// StreamMemory opens n streams of rec, feeds each samples in 100 ms
// pieces so it holds the state of real decoding, and reports in MiB the
// private memory the first stream added counted from base (an
// RSSAnonKiB taken before rec was loaded, so it includes the model) and
// what each further stream added on average (issue 14's per-extra-stream
// figure). The streams are closed before it returns.
func StreamMemory(t testing.TB, rec speech.Recognizer, samples []float32, n, base int) (first, extra float64) {
	t.Helper()
	var firstKiB int
	for i := range n {
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{})
		if err != nil {
			t.Fatalf("NewStream %d: %v", i, err)
		}
		defer st.Close()
		Feed(t, st, samples, rec.SampleRate()/10)
		if i == 0 {
			firstKiB = RSSAnonKiB(t)
		}
	}
	return float64(firstKiB-base) / 1024, float64(RSSAnonKiB(t)-firstKiB) / 1024 / float64(n-1)
}
