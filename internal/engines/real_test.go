package engines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// installVAD copies the shared Silero model into a fresh models dir,
// flipping one byte when corrupt is set.
func installVAD(t *testing.T, corrupt bool) string {
	t.Helper()
	data, err := os.ReadFile(testdata.SileroVAD(t))
	if err != nil {
		t.Fatal(err)
	}
	if corrupt {
		data[len(data)/2] ^= 0xff
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "silero-vad-v5"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "silero-vad-v5", "silero_vad.onnx"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadDefaults(t *testing.T, modelsDir string) *Set {
	t.Helper()
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	flite.Register(reg)
	sherpa.Register(reg)
	cat, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	store := &models.Store{Dir: modelsDir, Catalog: cat}
	set, err := Load(t.Context(), reg, speech.Deps{Models: store}, config.Config{}.Defaults().Engines.List())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = set.Close() })
	return set
}

func byRole(set *Set) map[string]Status {
	m := map[string]Status{}
	for _, st := range set.Status() {
		m[st.Role] = st
	}
	return m
}

func TestRealDefaultsLoad(t *testing.T) {
	set := loadDefaults(t, installVAD(t, false))
	st := byRole(set)
	for _, r := range []string{"asr", "transcribe", "tts", "vad"} {
		if st[r].State != Ready {
			t.Fatalf("%s: %+v", r, st[r])
		}
	}
	if st["speaker"].State != Off {
		t.Errorf("speaker: %+v", st["speaker"])
	}
	vad := st["vad"].Info
	if len(vad.Files) != 1 || vad.Files[0].SHA256 != testdata.SileroVADSHA256 {
		t.Fatalf("vad files = %+v, want the verified Silero hash", vad.Files)
	}
	if set.VAD == nil || set.Transcriber == nil || set.Synthesizer == nil || set.Recognizer == nil {
		t.Fatal("loaded engines missing from the set")
	}
}

// A corrupt model for an optional role is reported, never handed to
// onnxruntime (which would abort the process), and other roles still load.
func TestRealCorruptOptionalModel(t *testing.T) {
	set := loadDefaults(t, installVAD(t, true))
	st := byRole(set)
	if st["vad"].State != Failed || !strings.Contains(st["vad"].Error, "sha256 mismatch") {
		t.Fatalf("vad: %+v, want error naming the checksum mismatch", st["vad"])
	}
	if set.VAD != nil || !set.Ready() || st["transcribe"].State != Ready {
		t.Fatalf("other roles affected: %+v", st)
	}
}

func TestRealMissingModel(t *testing.T) {
	set := loadDefaults(t, t.TempDir())
	if st := byRole(set)["vad"]; st.State != Failed || !strings.Contains(st.Error, "not installed") {
		t.Fatalf("vad: %+v", st)
	}
}
