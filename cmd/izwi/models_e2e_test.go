package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// The models CLI imports, verifies and refuses through the same config
// (flag, IZWI_MODELS_DIR, izwi.toml) as serve, so they cannot disagree.
func TestModelsCLI(t *testing.T) {
	src := filepath.Dir(testdata.SileroVAD(t))
	dir := t.TempDir()

	r := run(t, nil, "models", "import", src, "silero-vad-v5", "--dir", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "silero-vad-v5") {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The environment variable and the config file name the same directory.
	r = run(t, []string{"IZWI_MODELS_DIR=" + dir}, "models", "verify", "silero-vad-v5", "--json")
	if r.code != exitOK {
		t.Fatalf("verify via env: exit %d\n%s", r.code, r.stderr)
	}
	var sts []struct {
		Name, State string
	}
	if err := json.Unmarshal([]byte(r.stdout), &sts); err != nil || len(sts) != 1 || sts[0].State != "installed" {
		t.Fatalf("verify --json = %q (%v)", r.stdout, err)
	}
	cfgPath := filepath.Join(t.TempDir(), "izwi.toml")
	if err := os.WriteFile(cfgPath, []byte("[data]\nmodels_dir = \""+dir+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r = run(t, nil, "models", "verify", "silero-vad-v5", "--config", cfgPath); r.code != exitOK {
		t.Fatalf("verify via izwi.toml: exit %d\n%s", r.code, r.stderr)
	}
	// The catalogue's own signature is checked before any file.
	if !strings.HasPrefix(r.stdout, "catalogue: good signature by key ") {
		t.Errorf("verify does not report the catalogue signature:\n%s", r.stdout)
	}

	// A flipped byte is refused with exit 4 and a message naming the file.
	p := filepath.Join(dir, "silero-vad-v5", "silero_vad.onnx")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[1000] ^= 0x80
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "models", "verify", "silero-vad-v5", "--dir", dir)
	if r.code != exitModel || !strings.Contains(r.stdout+r.stderr, "silero_vad.onnx") {
		t.Fatalf("corrupt verify: exit %d, want %d naming the file\n%s%s", r.code, exitModel, r.stdout, r.stderr)
	}

	if r = run(t, nil, "models", "frobnicate"); r.code != exitUsage {
		t.Errorf("unknown subcommand: exit %d, want %d", r.code, exitUsage)
	}
}
