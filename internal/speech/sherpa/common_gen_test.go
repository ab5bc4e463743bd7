package sherpa

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratorDeterministic regenerates every test model into a fresh
// directory and checks each file's SHA-256 against the shared copy's
// manifest: catalogue pins and cached manifests rely on stable bytes.
func TestGeneratorDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Python generator")
	}
	genModel(t, ttsModel) // make sure the shared copy exists
	shared := os.Getenv("IZWI_GEN_MODELS")
	if shared == "" {
		shared = filepath.Join(repoRoot(), "testdata", "gen")
	}
	fresh := t.TempDir()
	out, err := exec.Command("/usr/bin/python3", filepath.Join(repoRoot(), "scripts", "gen-test-models.py"), "--out", fresh).CombinedOutput()
	if err != nil {
		t.Fatalf("gen-test-models.py: %v\n%s", err, out)
	}
	for _, name := range []string{ttsModel, speakerModel, piperModel, kokoroModel} {
		a, b := readManifest(t, filepath.Join(shared, name)), readManifest(t, filepath.Join(fresh, name))
		if a == nil && b == nil {
			continue // optional model (espeak-ng-data absent) in neither
		}
		if len(a) == 0 || len(a) != len(b) {
			t.Errorf("%s: %d files in the shared copy, %d regenerated", name, len(a), len(b))
			continue
		}
		for f, h := range a {
			if b[f] != h {
				t.Errorf("%s/%s: sha256 %s regenerated as %s", name, f, h, b[f])
			}
		}
	}
	// A second run is a no-op that says so.
	out, err = exec.Command("/usr/bin/python3", filepath.Join(repoRoot(), "scripts", "gen-test-models.py"), "--out", fresh).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "up to date") {
		t.Errorf("second run: %v: %s; want it to find the models up to date", err, out)
	}
}

func readManifest(t *testing.T, dir string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		Files map[string]struct {
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	hashes := map[string]string{}
	for f, e := range man.Files {
		hashes[f] = e.SHA256
	}
	return hashes
}
