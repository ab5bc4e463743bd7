package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"golang.org/x/mod/modfile"

	"github.com/izwi-speech/izwi/internal/models"
)

// The SBOM of the built binary names the modules it links (with the
// versions go.mod pins), the native engines, and every catalogued model
// file with its pinned SHA-256.
func TestVersionSBOM(t *testing.T) {
	r := run(t, nil, "version", "--sbom")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader([]byte(r.stdout)), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Metadata == nil || bom.Metadata.Component.Name != "izwi" || bom.Components == nil {
		t.Fatalf("bom header: %+v", bom.Metadata)
	}
	mods, natives, hashes := map[string]string{}, map[string]string{}, map[string]string{}
	for _, c := range *bom.Components {
		switch c.Type {
		case cdx.ComponentTypeLibrary:
			if strings.HasPrefix(c.BOMRef, "native:") {
				natives[c.Name] = c.Description
			} else {
				mods[c.Name] = c.Version
			}
		case cdx.ComponentTypeMachineLearningModel:
			for _, f := range *c.Components {
				if f.Hashes != nil {
					hashes[c.Name+"/"+f.Name] = (*f.Hashes)[0].Value
				}
			}
		}
	}
	for path, version := range map[string]string{"github.com/k2-fsa/sherpa-onnx-go": "v1.13.8", "github.com/nats-io/nats-server/v2": moduleVersionInGoMod(t, "github.com/nats-io/nats-server/v2")} {
		if mods[path] != version {
			t.Errorf("module %s: %q in the SBOM, want %q", path, mods[path], version)
		}
	}
	if !strings.HasPrefix(natives["pocketsphinx"], "pocketsphinx ") || !strings.HasPrefix(natives["flite"], "flite 2") {
		t.Errorf("native engines: %v", natives)
	}
	cat, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	pinned := 0
	for _, name := range cat.Names() {
		e, _ := cat.Lookup(name)
		for _, f := range e.Files {
			got, ok := hashes[name+"/"+f.Path]
			if f.Verified && (!ok || got != f.SHA256) {
				t.Errorf("%s/%s: SBOM hash %q, catalogue %q", name, f.Path, got, f.SHA256)
			}
			if !f.Verified && ok {
				t.Errorf("%s/%s: unpinned file given a hash", name, f.Path)
			}
			if ok {
				pinned++
			}
		}
	}
	if pinned == 0 {
		t.Fatal("no model hashes in the SBOM")
	}
}

// moduleVersionInGoMod reads path's version from ../../go.mod.
func moduleVersionInGoMod(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == path {
			return r.Mod.Version
		}
	}
	t.Fatalf("%s not in go.mod", path)
	return ""
}
