package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

const localCatalog = `{"version":1,"models":[{"name":"venue-speakers","engine":"sherpa","family":"speaker-embedding",
 "description":"the venue's own speaker model","licence":"proprietary","meta":{"dim":"16","sample_rate":"16000"},
 "files":[{"role":"model","path":"model.onnx","sha256":"SHA","size":SIZE,"verified":true,"source":"pinned by the operator"}]}]}`

func writeLocal(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "local.json")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// An operator's own model, pinned in a local catalogue, is imported and
// resolved through the same checks as a catalogued one: a flipped byte is
// refused, and it cannot be pulled without a URL.
func TestLocalCatalogModelImportsAndVerifies(t *testing.T) {
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	body := []byte("not really onnx, but pinned bytes")
	if err := os.WriteFile(filepath.Join(src, "model.onnx"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("SHA", sha256hex(body), "SIZE", itoa(len(body))).Replace(localCatalog)
	cat, err := WithLocal(base, writeLocal(t, doc, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cat.Lookup("venue-speakers")
	if !ok || !e.Local || len(cat.Models) != len(base.Models)+1 {
		t.Fatalf("merged catalogue: %+v %v (%d models, base %d)", e, ok, len(cat.Models), len(base.Models))
	}
	if _, ok := base.Lookup("venue-speakers"); ok {
		t.Fatal("WithLocal changed the base catalogue")
	}
	s := &Store{Dir: t.TempDir(), Catalog: cat}
	ctx := context.Background()
	if _, err := s.Import(ctx, src, "venue-speakers"); err != nil {
		t.Fatal(err)
	}
	m, err := s.Resolve(ctx, "venue-speakers")
	if err != nil || m.Family != "speaker-embedding" {
		t.Fatalf("resolve: %+v %v", m, err)
	}
	if err := s.Pull(ctx, "venue-speakers", nil); !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "models import") {
		t.Fatalf("pull of a local model without a URL: %v", err)
	}
	p := filepath.Join(s.Dir, "venue-speakers", "model.onnx")
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "venue-speakers"); !errors.Is(err, speech.ErrModel) {
		t.Fatalf("a tampered local model resolved: %v", err)
	}
}

func TestLocalCatalogRefusals(t *testing.T) {
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	pinned := strings.NewReplacer("SHA", strings.Repeat("a", 64), "SIZE", "10").Replace(localCatalog)
	obj := pinned[strings.Index(pinned, "[")+1 : strings.LastIndex(pinned, "]")]
	cases := map[string]struct {
		body string
		mode os.FileMode
		want string
	}{
		"world-writable":    {pinned, 0o666, "writable by others"},
		"group-writable":    {pinned, 0o620, "writable by others"},
		"unpinned file":     {strings.Replace(pinned, `"verified":true`, `"verified":false,"max_size":10`, 1), 0o600, "not pinned"},
		"catalogued name":   {strings.Replace(pinned, "venue-speakers", "silero-vad-v5", 1), 0o600, "name of a catalogued model"},
		"system dir":        {strings.Replace(pinned, `"meta"`, `"system_dir":"/usr/share/x","meta"`, 1), 0o600, "system_dir"},
		"unknown field":     {strings.Replace(pinned, `"meta"`, `"trust_me":true,"meta"`, 1), 0o600, "unknown field"},
		"bad family":        {strings.Replace(pinned, "speaker-embedding", "rootkit", 1), 0o600, "unknown family"},
		"path escapes":      {strings.Replace(pinned, `"path":"model.onnx"`, `"path":"../../etc/passwd"`, 1), 0o600, "inside the model directory"},
		"empty":             {`{"version":1,"models":[]}`, 0o600, "no models"},
		"wrong version":     {`{"version":2,"models":[]}`, 0o600, "version 2"},
		"trailing garbage":  {pinned + "{}", 0o600, "trailing"},
		"not json":          {"models = []", 0o600, "invalid"},
		"duplicate locally": {`{"version":1,"models":[` + obj + "," + obj + "]}", 0o600, "listed twice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := WithLocal(base, writeLocal(t, c.body, c.mode))
			if !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("WithLocal = %v; want ErrCatalog mentioning %q", err, c.want)
			}
		})
	}
	if _, err := WithLocal(base, filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrCatalog) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Parse([]byte(strings.Replace(pinned, `"meta"`, `"local":true,"url":"x","meta"`, 1))); err == nil {
		t.Fatal("the embedded catalogue's parser accepted an entry marked local")
	}
}

func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func itoa(n int) string { return strconv.Itoa(n) }
