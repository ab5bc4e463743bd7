// Package testdata locates the real shared speech data and models that tests
// and benchmarks use (../shared/testdata and ../shared/models, see their
// MANIFEST.md) through the IZWI_TESTDATA and IZWI_MODELS environment
// variables. It never copies them. A missing set fails the test under `make
// test` (testenv.Strict) instead of skipping it. Only tests and benchmarks import it.
package testdata

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testenv"
)

// Utterance is one real recording with its reference transcript.
type Utterance struct {
	ID        string // e.g. "1089-134686-0000"
	Speaker   string // LibriSpeech speaker id, or "librivox" for the pocketsphinx set
	WAV       string // 16 kHz mono 16-bit WAV path
	FLAC      string // FLAC twin, "" if none
	Reference string // upstream transcript, upper-cased as LibriSpeech writes it
}

// repoRoot finds the repository root from this source file's location, so
// defaults work whatever package directory a test runs in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// need resolves env (or the ../shared default) and fails or skips t when the
// directory is missing.
func need(t testing.TB, env, sub string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		dir = filepath.Join(repoRoot(), "..", "shared", sub)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		testenv.Missing(t, "%s: shared data %q not found; set %s", env, dir, env)
	}
	return dir
}

// Dir returns the shared test-data directory (IZWI_TESTDATA).
func Dir(t testing.TB) string { t.Helper(); return need(t, "IZWI_TESTDATA", "testdata") }

// ModelsDir returns the shared models directory (IZWI_MODELS).
func ModelsDir(t testing.TB) string { t.Helper(); return need(t, "IZWI_MODELS", "models") }

// SileroVAD returns the path of the shared Silero VAD v5 model.
func SileroVAD(t testing.TB) string {
	t.Helper()
	p := filepath.Join(ModelsDir(t), "silero-vad-v5", "silero_vad.onnx")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("silero VAD model missing: %v", err)
	}
	return p
}

// SileroVADSHA256 is the pinned hash of the shared Silero VAD v5 file
// (shared/models/MANIFEST.md, snakers4/silero-vad @ f0d880d7).
const SileroVADSHA256 = "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f"

// Utterances returns all 19 shared utterances, sorted by ID. It fails t if
// fewer are found, since every caller relies on the full set.
func Utterances(t testing.TB) []Utterance {
	t.Helper()
	root := Dir(t)
	var out []Utterance
	// LibriSpeech sets: *.trans.txt files hold "ID TEXT" lines.
	for _, set := range []string{"librispeech-test-clean-1089", "mini-librispeech-dev-clean-2"} {
		_ = filepath.WalkDir(filepath.Join(root, set), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".flac") {
				return nil
			}
			id := strings.TrimSuffix(filepath.Base(p), ".flac")
			out = append(out, Utterance{ID: id, Speaker: strings.SplitN(id, "-", 2)[0],
				FLAC: p, WAV: strings.TrimSuffix(p, ".flac") + ".wav"})
			return nil
		})
	}
	refs := map[string]string{}
	_ = filepath.WalkDir(filepath.Join(root, "librispeech-test-clean-1089"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".trans.txt") {
			readLines(t, p, func(line string) {
				if id, text, ok := strings.Cut(line, " "); ok {
					refs[id] = text
				}
			})
		}
		return nil
	})
	readLines(t, filepath.Join(root, "mini-librispeech-dev-clean-2", "ls-dev-clean-2.txt"), func(line string) {
		var rec struct{ Path, Text string }
		if json.Unmarshal([]byte(line), &rec) == nil {
			refs[strings.TrimSuffix(filepath.Base(rec.Path), ".flac")] = rec.Text
		}
	})
	// PocketSphinx LibriVox set: CMU Sphinx "<s> words </s> (id)" lines.
	ps := filepath.Join(root, "pocketsphinx-librivox")
	readLines(t, filepath.Join(ps, "transcription"), func(line string) {
		open, close := strings.LastIndex(line, "("), strings.LastIndex(line, ")")
		if open < 0 || close < open {
			return
		}
		id := line[open+1 : close]
		text := strings.NewReplacer("<s>", "", "</s>", "").Replace(line[:open])
		out = append(out, Utterance{ID: id, Speaker: "librivox", WAV: filepath.Join(ps, id+".wav")})
		refs[id] = strings.ToUpper(strings.Join(strings.Fields(text), " "))
	})
	for i := range out {
		out[i].Reference = refs[out[i].ID]
		if out[i].Reference == "" {
			t.Fatalf("no reference transcript for %s", out[i].ID)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) != 19 {
		t.Fatalf("found %d shared utterances under %s, want 19", len(out), root)
	}
	return out
}

func readLines(t testing.TB, path string, fn func(string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			fn(line)
		}
	}
}
