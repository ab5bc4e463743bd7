package main

// izwi version --sbom: a CycloneDX software bill of materials of this very
// binary — the Go modules linked in (from its embedded build info), the
// native speech libraries it runs, and the model catalogue with every pinned
// SHA-256 — so an operator can check what a box runs against advisories.

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/izwi-speech/izwi/internal/buildinfo"
	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/speech"
)

// writeSBOM writes the CycloneDX JSON document for this binary to w.
func writeSBOM(ctx context.Context, w io.Writer, reg *speech.Registry, now time.Time) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("sbom: this binary carries no build information")
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "" // reproducible for one binary: no random serial
	bom.Metadata = &cdx.Metadata{
		Timestamp: now.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication,
			Name: "izwi version --sbom", Version: buildinfo.Version}}},
		Component: &cdx.Component{BOMRef: "izwi", Type: cdx.ComponentTypeApplication, Name: "izwi",
			Version: buildinfo.Version, PackageURL: "pkg:golang/" + bi.Main.Path + "@" + buildinfo.Version,
			Properties: &[]cdx.Property{{Name: "izwi:commit", Value: buildinfo.Commit}, {Name: "go:version", Value: bi.GoVersion}}},
	}
	var comps []cdx.Component
	var refs []string
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		ref := "pkg:golang/" + m.Path + "@" + m.Version
		c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: m.Path, Version: m.Version, PackageURL: ref}
		if m.Sum != "" {
			// go.sum's h1: is a SHA-256 over the module's file tree (dirhash),
			// not over one file, so it is a property rather than a hash.
			c.Properties = &[]cdx.Property{{Name: "go:h1", Value: m.Sum}}
		}
		comps = append(comps, c)
		refs = append(refs, ref)
	}
	for _, e := range sortedEngines(reg) {
		ref := "native:" + e
		comps = append(comps, cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: e,
			Description: libraryOf(ctx, reg, e)})
		refs = append(refs, ref)
	}
	cat, err := models.Default()
	if err != nil {
		return fmt.Errorf("sbom: model catalogue: %w", err)
	}
	for _, name := range cat.Names() {
		entry, _ := cat.Lookup(name)
		c := cdx.Component{BOMRef: "model:" + name, Type: cdx.ComponentTypeMachineLearningModel, Name: name,
			Description: entry.Description, Licenses: &cdx.Licenses{{License: &cdx.License{Name: entry.Licence}}}}
		var files []cdx.Component
		for _, f := range entry.Files {
			fc := cdx.Component{Type: cdx.ComponentTypeFile, Name: f.Path,
				Properties: &[]cdx.Property{{Name: "izwi:hash_source", Value: f.Source}}}
			if f.Verified && f.SHA256 != "" {
				fc.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
			} else {
				*fc.Properties = append(*fc.Properties, cdx.Property{Name: "izwi:pinned", Value: "false"})
			}
			files = append(files, fc)
		}
		c.Components = &files
		comps = append(comps, c)
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: "izwi", Dependencies: &refs}}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	return enc.EncodeVersion(bom, cdx.SpecVersion1_6)
}

// sortedEngines lists every registered engine name once, sorted.
func sortedEngines(reg *speech.Registry) []string {
	seen := map[string]bool{}
	for _, names := range reg.Roles() {
		for _, n := range names {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
