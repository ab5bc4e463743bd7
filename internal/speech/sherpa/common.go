package sherpa

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// resolve finds and verifies the catalogue model spec names. Only
// deps.Models may produce paths for the native runtime.
func resolve(ctx context.Context, spec speech.Spec, deps speech.Deps, role string) (speech.ResolvedModel, error) {
	if spec.Model == "" {
		return speech.ResolvedModel{}, fmt.Errorf("sherpa: %s: no model named in spec: %w", role, speech.ErrModel)
	}
	if deps.Models == nil {
		return speech.ResolvedModel{}, fmt.Errorf("sherpa: %s: no model resolver: %w", role, speech.ErrModel)
	}
	m, err := deps.Models.Resolve(ctx, spec.Model)
	if err != nil {
		return speech.ResolvedModel{}, fmt.Errorf("sherpa: %s: resolving %q: %w", role, spec.Model, err)
	}
	return m, nil
}

// requireFiles checks that m has a regular file for each role, of the size
// the catalogue verified, before any of them reaches sherpa-onnx: a missing
// file makes some sherpa-onnx constructors call exit() instead of failing.
func requireFiles(m speech.ResolvedModel, roles ...string) error {
	for _, role := range roles {
		f, ok := m.Files[role]
		if !ok || f.Path == "" {
			return fmt.Errorf("sherpa: model %q has no %q file: %w", m.Name, role, speech.ErrModel)
		}
		st, err := os.Stat(f.Path)
		if err != nil {
			return fmt.Errorf("sherpa: model %q %s: %w: %w", m.Name, role, speech.ErrModel, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("sherpa: model %q %s is not a regular file: %w", m.Name, role, speech.ErrModel)
		}
		if f.Size > 0 && st.Size() != f.Size {
			return fmt.Errorf("sherpa: model %q %s is %d bytes, verified %d: %w", m.Name, role, st.Size(), f.Size, speech.ErrModel)
		}
	}
	return nil
}

// checkFamily refuses a model whose catalogue family is set and is not one
// of want: handing, say, a TTS graph to the VAD can make sherpa-onnx exit.
func checkFamily(m speech.ResolvedModel, role string, want ...string) error {
	if m.Family == "" {
		return nil
	}
	for _, w := range want {
		if m.Family == w {
			return nil
		}
	}
	return fmt.Errorf("sherpa: %s: model %q is family %q, want one of %s: %w", role, m.Name, m.Family, strings.Join(want, ", "), speech.ErrModel)
}

// threads is the native thread count for spec (0 means 1).
func threads(spec speech.Spec) int { return max(spec.Threads, 1) }

// library names the native runtime for EngineInfo.
// Library names the native sherpa-onnx and onnxruntime versions linked in.
func Library() string {
	return "sherpa-onnx " + sherpa.GetVersion() + " (onnxruntime " + sherpa.GetOnnxruntimeVersion() + ")"
}

// info describes a loaded model for role, listing its verified files in
// role order.
func info(role string, m speech.ResolvedModel) speech.EngineInfo {
	in := speech.EngineInfo{Engine: Engine, Role: role, Model: m.Name, Library: Library()}
	for _, r := range slices.Sorted(maps.Keys(m.Files)) {
		in.Files = append(in.Files, m.Files[r])
	}
	return in
}

// floatOption parses options[key] as a float32 within [lo, hi], or returns
// def when the key is absent.
func floatOption(options map[string]string, key string, def, lo, hi float32) (float32, error) {
	s, ok := options[key]
	if !ok {
		return def, nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil || v != v || float32(v) < lo || float32(v) > hi {
		return 0, fmt.Errorf("sherpa: option %s=%q: want a number in [%g, %g]: %w", key, s, lo, hi, speech.ErrBadInput)
	}
	return float32(v), nil
}

// intOption parses options[key] as an int within [lo, hi], or returns def.
func intOption(options map[string]string, key string, def, lo, hi int) (int, error) {
	s, ok := options[key]
	if !ok {
		return def, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("sherpa: option %s=%q: want an integer in [%d, %d]: %w", key, s, lo, hi, speech.ErrBadInput)
	}
	return v, nil
}

// checkOptions refuses option keys the engine does not know, so a typo in
// izwi.toml fails loudly instead of being ignored.
func checkOptions(options map[string]string, known ...string) error {
	for k := range options {
		ok := false
		for _, kn := range known {
			ok = ok || k == kn
		}
		if !ok {
			return fmt.Errorf("sherpa: unknown option %q (known: %s): %w", k, strings.Join(known, ", "), speech.ErrBadInput)
		}
	}
	return nil
}
