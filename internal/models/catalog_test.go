package models

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDefaultCatalogValidates(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("embedded catalogue: %v", err)
	}
	required := []string{
		"streaming-zipformer-en-20M-2023-02-17", "streaming-zipformer-en-2023-06-26",
		"whisper-tiny.en", "whisper-base.en", "moonshine-tiny-en-int8", "moonshine-base-en-int8",
		"parakeet-tdt-0.6b-v2-int8", "3dspeaker-campplus-en-voxceleb", "silero-vad-v5",
		"pocketsphinx-en-us",
	}
	for _, n := range required {
		if _, ok := c.Lookup(n); !ok {
			t.Errorf("required model %q missing from the catalogue", n)
		}
	}
	for _, e := range c.Models {
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
		for _, f := range e.Files {
			if f.Verified {
				if !hexRE.MatchString(f.SHA256) || f.Size <= 0 || f.Source == "" {
					t.Errorf("%s/%s: verified file needs 64-hex sha256, size and source", e.Name, f.Path)
				}
			} else if !strings.Contains(f.Source, "unpinned") {
				t.Errorf("%s/%s: unverified file's source must say why it is unpinned: %q", e.Name, f.Path, f.Source)
			}
		}
	}
	// The Silero pin must be the one the shared MANIFEST records.
	vad, _ := c.Lookup("silero-vad-v5")
	if vad.Files[0].SHA256 != "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f" || vad.Files[0].Size != 2327524 {
		t.Errorf("silero pin drifted from MANIFEST: %+v", vad.Files[0])
	}
}

// mutate decodes the real catalogue, applies fn and re-encodes it.
func mutate(t testing.TB, fn func(c *Catalog)) []byte {
	t.Helper()
	var c Catalog
	if err := json.Unmarshal(embeddedCatalog, &c); err != nil {
		t.Fatal(err)
	}
	fn(&c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCatalogRejects(t *testing.T) {
	idx := func(c *Catalog, name string) *Entry {
		for i := range c.Models {
			if c.Models[i].Name == name {
				return &c.Models[i]
			}
		}
		t.Fatalf("no %s", name)
		return nil
	}
	cases := map[string]func(c *Catalog){
		"unknown meta key":     func(c *Catalog) { idx(c, "whisper-tiny.en").Meta["exec"] = "rm -rf /" },
		"meta path value":      func(c *Catalog) { idx(c, "whisper-tiny.en").Meta["language"] = "../../etc" },
		"bad model_type":       func(c *Catalog) { idx(c, "streaming-zipformer-en-20M-2023-02-17").Meta["model_type"] = "{{.Env}}" },
		"bad float":            func(c *Catalog) { idx(c, "silero-vad-v5").Meta["threshold"] = "2" },
		"path traversal":       func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Path = "../../bin/sh" },
		"absolute path":        func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Path = "/etc/passwd" },
		"dot file":             func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Path = ".izwi-lock.json" },
		"short sha":            func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].SHA256 = "abc" },
		"verified no size":     func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Size = 0 },
		"verified no source":   func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Source = "" },
		"unverified with hash": func(c *Catalog) { f := &idx(c, "whisper-tiny.en").Files[0]; f.Verified = false },
		"unbounded unverified": func(c *Catalog) {
			f := &idx(c, "streaming-zipformer-en-2023-06-26").Files[0]
			f.Verified, f.SHA256, f.Size, f.MaxSize = false, "", 0, 0
		},
		"plain http":        func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].URL = "http://example.com/x.onnx" },
		"missing role":      func(c *Catalog) { e := idx(c, "whisper-tiny.en"); e.Files = e.Files[1:] },
		"unknown role":      func(c *Catalog) { idx(c, "whisper-tiny.en").Files[0].Role = "plugin" },
		"wrong engine":      func(c *Catalog) { idx(c, "whisper-tiny.en").Engine = "pocketsphinx" },
		"unknown family":    func(c *Catalog) { idx(c, "whisper-tiny.en").Family = "offline-magic" },
		"duplicate name":    func(c *Catalog) { c.Models = append(c.Models, c.Models[0]) },
		"bad name":          func(c *Catalog) { idx(c, "whisper-tiny.en").Name = "../x" },
		"system_dir sherpa": func(c *Catalog) { idx(c, "whisper-tiny.en").SystemDir = "/usr/share" },
		"version":           func(c *Catalog) { c.Version = 2 },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(mutate(t, fn))
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("want ErrCatalog, got %v", err)
			}
		})
	}
	if _, err := Parse(mutate(t, func(*Catalog) {})); err != nil {
		t.Fatalf("unmodified round trip must parse: %v", err)
	}
	if _, err := Parse([]byte(`{"version":1,"models":[],"extra":1}`)); !errors.Is(err, ErrCatalog) {
		t.Fatalf("unknown field: want ErrCatalog, got %v", err)
	}
}

func FuzzCatalogParse(f *testing.F) {
	// One real entry, not the whole 30 KB catalogue: Go's fuzzer stalls on
	// large seeds. TestCatalogRejects covers the full file.
	f.Add(mutate(f, func(c *Catalog) { c.Models = c.Models[2:3] }))
	f.Add([]byte(`{"version":1,"models":[{"name":"a","engine":"sherpa","family":"speaker-embedding","description":"d","licence":"l","files":[{"role":"model","path":"m.onnx","url":"https://x/m","verified":false,"max_size":1,"source":"unpinned"}]}]}`))
	f.Add([]byte(`{"version":1,"models":[{"name":"a","meta":{"x":"y"}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		// Anything accepted must hold every rule again and keep paths inside.
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted catalogue fails Validate: %v", err)
		}
		for _, e := range c.Models {
			for _, fl := range e.Files {
				if checkRelPath(fl.Path) != nil || strings.Contains(fl.Path, "..") {
					t.Fatalf("accepted unsafe path %q", fl.Path)
				}
			}
		}
	})
}
