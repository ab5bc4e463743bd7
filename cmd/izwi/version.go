package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/buildinfo"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/speech/sherpa"
)

// versionInfo is what `izwi version --json` prints.
type versionInfo struct {
	Version  string              `json:"version"`
	Commit   string              `json:"commit"`
	Go       string              `json:"go"`
	Platform string              `json:"platform"`
	Engines  []engineVersion     `json:"engines"`
	Roles    map[string][]string `json:"roles"`
}

// engineVersion names one registered engine, its roles and native library.
type engineVersion struct {
	Name    string   `json:"name"`
	Roles   []string `json:"roles"`
	Library string   `json:"library"`
}

func runVersion(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("version", c.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	sbom := fs.Bool("sbom", false, "print a CycloneDX 1.6 SBOM of this binary: Go modules, native engines, pinned models")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "izwi version: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	reg := newRegistry()
	if *sbom {
		at := time.Now()
		if t, ok := sourceDateEpoch(); ok { // reproducible release SBOMs
			at = t
		}
		if err := writeSBOM(ctx, c.stdout, reg, at); err != nil {
			fmt.Fprintf(c.stderr, "izwi version: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	v := versionInfo{Version: buildinfo.Version, Commit: buildinfo.Commit, Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Roles: reg.Roles()}
	byEngine := map[string][]string{}
	for role, names := range v.Roles {
		for _, n := range names {
			byEngine[n] = append(byEngine[n], role)
		}
	}
	for name, roles := range byEngine {
		sort.Strings(roles)
		v.Engines = append(v.Engines, engineVersion{Name: name, Roles: roles, Library: libraryOf(ctx, reg, name)})
	}
	sort.Slice(v.Engines, func(i, j int) bool { return v.Engines[i].Name < v.Engines[j].Name })
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return exitFailure
		}
		return exitOK
	}
	fmt.Fprintf(c.stdout, "izwi %s (commit %s) %s %s\n", v.Version, v.Commit, v.Go, v.Platform)
	fmt.Fprintln(c.stdout, "engines:")
	for _, e := range v.Engines {
		fmt.Fprintf(c.stdout, "  %-13s %-34s %s\n", e.Name, strings.Join(e.Roles, ","), e.Library)
	}
	return exitOK
}

// libraryOf names the native library behind engine. PocketSphinx declares
// it; sherpa-onnx reports its native and onnxruntime versions; Flite reports
// it once a synthesizer is loaded (it needs no model, so this is cheap).
func libraryOf(ctx context.Context, reg *speech.Registry, engine string) string {
	switch engine {
	case pocketsphinx.Name:
		return pocketsphinx.Library
	case "sherpa", "silero":
		return sherpa.Library() + ", Go module sherpa-onnx-go " + moduleVersion("github.com/k2-fsa/sherpa-onnx-go")
	}
	for _, n := range reg.Synthesizers.Names() {
		if n != engine {
			continue
		}
		syn, err := reg.Synthesizers.New(ctx, speech.Spec{Engine: engine}, speech.Deps{})
		if err != nil {
			return "unavailable: " + err.Error()
		}
		defer syn.Close()
		return syn.Info().Library
	}
	return "unknown"
}

// moduleVersion returns the version of module path linked into this binary.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "(unknown)"
}
