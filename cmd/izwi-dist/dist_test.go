package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/testenv"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o600)
		if strings.HasPrefix(name, "usr/bin/") || strings.HasPrefix(name, "bin/") {
			mode = 0o700
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// Two archives of the same tree are byte-identical even when the files'
// times, permissions beyond the x bit and creation order differ.
func TestTarReproducible(t *testing.T) {
	at := time.Unix(1790000000, 0)
	files := map[string]string{"bin/izwi": "ELF", "lib/izwi/libonnxruntime.so": "so", "share/doc/izwi/README.md": "# izwi"}
	a, b := t.TempDir(), t.TempDir()
	writeFiles(t, a, files)
	writeFiles(t, b, files)
	os.Chtimes(filepath.Join(b, "bin/izwi"), time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	os.Chmod(filepath.Join(b, "share/doc/izwi/README.md"), 0o664)
	var ba, bb bytes.Buffer
	if err := writeTarGz(t.Context(), &ba, a, "izwi-1.0", at, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeTarGz(t.Context(), &bb, b, "izwi-1.0", at, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatal("two archives of the same files differ")
	}
	zr, err := gzip.NewReader(&ba)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(at) {
			t.Errorf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Name == "izwi-1.0/bin/izwi" && h.Mode != 0o755 || h.Name == "izwi-1.0/share/doc/izwi/README.md" && h.Mode != 0o644 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("entries not sorted: %q before %q", names[i-1], names[i])
		}
	}
}

func buildTestImage(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	for _, d := range []string{"var/lib/izwi", "run/credentials/izwi", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	dir := t.TempDir()
	if err := buildLayout(t.Context(), dir, root, []byte(`{"bomFormat":"CycloneDX"}`), "1.0", time.Unix(1790000000, 0)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImageChecks(t *testing.T) {
	good := buildTestImage(t, map[string]string{"usr/bin/izwi": "ELF", "etc/passwd": "izwi:x:65532:65532::/var/lib/izwi:/sbin/nologin\n"})
	report, err := checkImage(good)
	if err != nil {
		t.Fatalf("good image refused: %v", err)
	}
	if !strings.Contains(report, "user 65532:65532") || !strings.Contains(report, "no shell") {
		t.Errorf("report %q", report)
	}
	again := buildTestImage(t, map[string]string{"usr/bin/izwi": "ELF", "etc/passwd": "izwi:x:65532:65532::/var/lib/izwi:/sbin/nologin\n"})
	ia, _ := os.ReadFile(filepath.Join(good, "index.json"))
	ib, _ := os.ReadFile(filepath.Join(again, "index.json"))
	if !bytes.Equal(ia, ib) {
		t.Errorf("two builds of the same root give different indexes:\n%s\n%s", ia, ib)
	}
	withShell := buildTestImage(t, map[string]string{"usr/bin/izwi": "ELF", "bin/sh": "#!"})
	if _, err := checkImage(withShell); err == nil || !strings.Contains(err.Error(), "shell") {
		t.Fatalf("an image with /bin/sh passed: %v", err)
	}
	noBinary := buildTestImage(t, map[string]string{"usr/bin/other": "ELF"})
	if _, err := checkImage(noBinary); err == nil {
		t.Fatal("an image without izwi passed")
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for izwi\.service: ([0-9.]+)`)

// The unit's sandboxing, scored by systemd itself: exposure <= 2.0.
func TestUnitExposure(t *testing.T) {
	unit := "../../packaging/izwi.service"
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "User=izwi", "ProtectSystem=strict", "ReadWritePaths=/var/lib/izwi",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "PrivateDevices=yes", "SystemCallFilter=@system-service",
		"MemoryDenyWriteExecute=yes", "LoadCredential"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("izwi.service lacks %q", strings.TrimSpace(want))
		}
	}
	tool := testenv.LookPath(t, "systemd-analyze", "apt-get install -y systemd (scripts/setup.sh does)")
	// --threshold is on systemd's 0-100 scale: 20 is an exposure of 2.0.
	out, err := exec.Command(tool, "security", "--offline=yes", "--threshold=20", unit).CombinedOutput()
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security --offline=yes: exposure %.1f", score)
	if err != nil || score > 2.0 {
		t.Fatalf("exposure %.1f > 2.0 (%v)\n%s", score, err, out)
	}
}
