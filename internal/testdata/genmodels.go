package testdata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// genManifest is manifest.json as scripts/gen-test-models.py writes it.
type genManifest struct {
	Name   string `json:"name"`
	Family string `json:"family"`
	Files  map[string]struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"files"`
	Roles map[string]string `json:"roles"`
	Meta  map[string]string `json:"meta"`
}

// GenModel returns the generated test model name (a directory under
// IZWI_GEN_MODELS, default <repo>/testdata/gen) as a ResolvedModel, every
// file checked against manifest.json's SHA-256 just as package models does
// for real ones. When the directory is missing it runs the generator once,
// except under `make test` (testenv.Strict), which has already run it.
func GenModel(t testing.TB, name string) speech.ResolvedModel {
	t.Helper()
	root := os.Getenv("IZWI_GEN_MODELS")
	if root == "" {
		root = filepath.Join(repoRoot(), "testdata", "gen")
	}
	dir := filepath.Join(root, name)
	manifestPath := filepath.Join(dir, "manifest.json")
	if _, err := os.Stat(manifestPath); err != nil {
		if testenv.Strict() {
			t.Fatalf("generated model %s missing under %s (run `make test-models`); under `make test` it must already be there", name, root)
		}
		cmd := exec.Command("/usr/bin/python3", filepath.Join(repoRoot(), "scripts", "gen-test-models.py"), "--out", root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gen-test-models.py: %v\n%s", err, out)
		}
	}
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatalf("generated model %s: %v", name, err)
	}
	var man genManifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatalf("generated model %s: manifest: %v", name, err)
	}
	m := speech.ResolvedModel{Name: name, Family: man.Family, Dir: dir,
		Files: map[string]speech.ModelFile{}, Meta: man.Meta}
	for role, rel := range man.Roles {
		want, ok := man.Files[rel]
		if !ok {
			t.Fatalf("generated model %s: role %s names unlisted file %s", name, role, rel)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if got := FileSHA256(t, p); got != want.SHA256 {
			t.Fatalf("generated model %s: %s sha256 %s, manifest says %s (regenerate with `make test-models`)", name, rel, got, want.SHA256)
		}
		m.Files[role] = speech.ModelFile{Path: p, SHA256: want.SHA256, Size: want.Size}
	}
	return m
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Resolver serves already verified models by name (GenModel's, or a
// shared model wrapped by hand), standing in for package models' catalogue.
type Resolver map[string]speech.ResolvedModel

// Resolve implements speech.ModelResolver.
func (r Resolver) Resolve(_ context.Context, name string) (speech.ResolvedModel, error) {
	m, ok := r[name]
	if !ok {
		return speech.ResolvedModel{}, fmt.Errorf("testdata resolver: model %q not provided: %w", name, speech.ErrModel)
	}
	return m, nil
}

// SileroModel returns the shared Silero VAD v5 as a ResolvedModel, its
// SHA-256 checked against the pinned one.
func SileroModel(t testing.TB) speech.ResolvedModel {
	t.Helper()
	p := SileroVAD(t)
	if got := FileSHA256(t, p); got != SileroVADSHA256 {
		t.Fatalf("%s: sha256 %s, pinned %s", p, got, SileroVADSHA256)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return speech.ResolvedModel{Name: "silero-vad-v5", Family: "vad-silero",
		Files: map[string]speech.ModelFile{"model": {Path: p, SHA256: SileroVADSHA256, Size: st.Size()}}}
}
