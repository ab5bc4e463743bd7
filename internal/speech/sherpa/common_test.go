package sherpa

import (
	"path/filepath"
	"runtime"
	"testing"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// repoRoot is the module root, found from this file's location so tests run
// from any directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// genModel is testdata.GenModel (kept short for the many call sites).
func genModel(t testing.TB, name string) speech.ResolvedModel {
	t.Helper()
	return testdata.GenModel(t, name)
}

// fileSHA256 is testdata.FileSHA256.
func fileSHA256(t testing.TB, path string) string { t.Helper(); return testdata.FileSHA256(t, path) }

// readWAV loads a mono WAV with sherpa-onnx's own reader, so engine tests do
// not depend on package audio.
func readWAV(t testing.TB, path string) ([]float32, int) {
	t.Helper()
	w := sherpa.ReadWave(path)
	if w == nil {
		t.Fatalf("cannot read wave %s", path)
	}
	return w.Samples, w.SampleRate
}
