package pocketsphinx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// DefaultModel is the catalogue name resolved when Spec.Model is empty.
const DefaultModel = "pocketsphinx-en-us"

// Debian's pocketsphinx-en-us install, used only when no model resolver is
// given (unit tests, `go run` without a catalogue).
const (
	debianModelDir = "/usr/share/pocketsphinx/model/en-us"
	debianHMM      = debianModelDir + "/en-us"
	debianLM       = debianModelDir + "/en-us.lm.bin"
	debianDict     = debianModelDir + "/cmudict-en-us.dict"
)

// hmmFiles are the acoustic-model files PocketSphinx reads from its -hmm
// directory, with the flag that names each one explicitly. Passing every
// file by flag means PocketSphinx never picks a file by directory listing.
func hmmFiles() []struct{ name, flag string } {
	return []struct{ name, flag string }{
		{"mdef", "-mdef"},
		{"means", "-mean"},
		{"variances", "-var"},
		{"transition_matrices", "-tmat"},
		{"sendump", "-sendump"},
		{"noisedict", "-fdict"},
		{"feat.params", "-featparams"},
	}
}

// autoLoaded are further names PocketSphinx 5prealpha loads from the -hmm
// directory when present; an unverified one there makes the model unusable.
func autoLoaded() []string { return []string{"mixture_weights", "feature_transform", "mllr_matrix"} }

// config is everything needed to build decoders, fixed at load time.
type config struct {
	model       string
	language    string // ISO 639-1, from the catalogue; "en" for Debian's model
	hmm         string
	lm, dict    string
	sampleRate  int
	maxDecoders int
	partials    bool
	files       []speech.ModelFile
	// contextWeight is the prepared model's share of the mixture.
	contextWeight float64
	// block, endpoint and secondPass are the endpointing profile
	// (profile): samples per ps_process_raw call, frames of non-speech
	// that end an utterance (-vad_postspeech) and whether the fwdflat pass
	// runs when it ends. The bestpath pass always runs: word confidences
	// are its lattice posteriors (without it every word scores 1).
	block      int
	endpoint   int
	secondPass bool
}

// Endpointing profiles. Files follow pocketsphinx_continuous exactly
// (2048-sample blocks, 50 frames of silence, both second passes), so file
// transcription matches the CLI word for word. Live streams end an
// utterance after 15 frames of silence, check for it every 512 samples and
// skip the fwdflat pass: over the 19 shared utterances the final then
// comes 0.19 s of audio after the last word (not 0.63 s) and ending an
// utterance costs ~0.04 s of CPU (not ~0.27 s), at a corpus WER of 30.3 %
// against 32.9 % for the file profile (BenchmarkEndpoint,
// docs/benchmarks.md).
const (
	fileBlock, fileEndpoint = 2048, 50
	liveBlock, liveEndpoint = 512, 15
)

// profile sets the endpointing defaults of the role: live (asr) or files.
func (c *config) profile(live bool) {
	c.block, c.endpoint, c.secondPass = fileBlock, fileEndpoint, true
	if live {
		c.block, c.endpoint, c.secondPass = liveBlock, liveEndpoint, false
	}
}

// args is the PocketSphinx command line for one decoder.
func (c config) args() []string {
	a := []string{"-hmm", c.hmm}
	for _, f := range hmmFiles() {
		a = append(a, f.flag, filepath.Join(c.hmm, f.name))
	}
	a = append(a,
		"-lm", c.lm,
		"-dict", c.dict,
		"-samprate", strconv.Itoa(c.sampleRate),
	)
	// The file profile passes nothing more: the CLI's defaults exactly.
	if c.endpoint != fileEndpoint {
		a = append(a, "-vad_postspeech", strconv.Itoa(c.endpoint))
	}
	if !c.secondPass {
		a = append(a, "-fwdflat", "no")
	}
	return a
}

// newConfig reads spec and, with a resolver, the verified catalogue model.
// Options: hmm, lm, dict (paths, only without a resolver), samprate (Hz),
// decoders (pool bound), partials (true/false), context_weight (the
// prepared-text model's share, 0–1 exclusive, default LiveContextWeight
// or FileContextWeight), endpoint (frames of 10 ms of silence that end an
// utterance, 5–100) and second_pass (true/false). live picks the live or
// the file profile.
func newConfig(ctx context.Context, spec speech.Spec, deps speech.Deps, live bool) (config, error) {
	c := config{model: spec.Model, sampleRate: 16000, maxDecoders: 4, partials: live, contextWeight: FileContextWeight, language: "en"}
	if live {
		c.contextWeight = LiveContextWeight
	}
	c.profile(live)
	if c.model == "" {
		c.model = DefaultModel
	}
	for k := range spec.Options {
		switch k {
		case "hmm", "lm", "dict", "samprate", "decoders", "partials", "context_weight", "endpoint", "second_pass":
		default:
			return config{}, fmt.Errorf("pocketsphinx: unknown option %q (have hmm, lm, dict, samprate, decoders, partials, context_weight, endpoint, second_pass): %w", k, speech.ErrBadInput)
		}
	}
	opt := spec.Options
	if v, ok := opt["samprate"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8000 || n > 48000 {
			return config{}, fmt.Errorf("pocketsphinx: samprate %q must be an integer in [8000, 48000]: %w", v, speech.ErrBadInput)
		}
		c.sampleRate = n
	}
	if v, ok := opt["decoders"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			return config{}, fmt.Errorf("pocketsphinx: decoders %q must be an integer in [1, 256]: %w", v, speech.ErrBadInput)
		}
		c.maxDecoders = n
	}
	if v, ok := opt["context_weight"]; ok {
		w, err := strconv.ParseFloat(v, 64)
		if err != nil || !(w > 0 && w < 1) {
			return config{}, fmt.Errorf("pocketsphinx: context_weight %q must be a number between 0 and 1: %w", v, speech.ErrBadInput)
		}
		c.contextWeight = w
	}
	if v, ok := opt["endpoint"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			return config{}, fmt.Errorf("pocketsphinx: endpoint %q must be an integer in [5, 100] (frames of 10 ms): %w", v, speech.ErrBadInput)
		}
		c.endpoint = n
	}
	if v, ok := opt["second_pass"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("pocketsphinx: second_pass %q must be true or false: %w", v, speech.ErrBadInput)
		}
		c.secondPass = b
	}
	if v, ok := opt["partials"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("pocketsphinx: partials %q must be true or false: %w", v, speech.ErrBadInput)
		}
		c.partials = b
	}
	if deps.Models != nil {
		for _, k := range []string{"hmm", "lm", "dict"} {
			if _, ok := opt[k]; ok {
				return config{}, fmt.Errorf("pocketsphinx: option %q cannot override a verified catalogue model; install the files as a catalogue model instead: %w", k, speech.ErrUnsupported)
			}
		}
		if err := c.resolve(ctx, deps.Models); err != nil {
			return config{}, err
		}
		return c, nil
	}
	c.hmm, c.lm, c.dict = debianHMM, debianLM, debianDict
	if v, ok := opt["hmm"]; ok {
		c.hmm = v
	}
	if v, ok := opt["lm"]; ok {
		c.lm = v
	}
	if v, ok := opt["dict"]; ok {
		c.dict = v
	}
	return c, c.check()
}

// resolve takes every path from the verified model: roles "hmm/<file>",
// "lm" and "dict".
func (c *config) resolve(ctx context.Context, r speech.ModelResolver) error {
	m, err := r.Resolve(ctx, c.model)
	if err != nil {
		return fmt.Errorf("pocketsphinx: resolving model %q: %w", c.model, err)
	}
	for _, f := range hmmFiles() {
		p := m.File("hmm/" + f.name)
		if p == "" {
			return fmt.Errorf("pocketsphinx: model %q lacks role hmm/%s: %w", c.model, f.name, speech.ErrModel)
		}
		dir := filepath.Dir(p)
		if c.hmm == "" {
			c.hmm = dir
		} else if dir != c.hmm {
			return fmt.Errorf("pocketsphinx: model %q splits its acoustic model across %s and %s: %w", c.model, c.hmm, dir, speech.ErrModel)
		}
		if filepath.Base(p) != f.name {
			return fmt.Errorf("pocketsphinx: model %q role hmm/%s is named %s: %w", c.model, f.name, filepath.Base(p), speech.ErrModel)
		}
	}
	if l := m.Meta["language"]; l != "" {
		c.language = l
	}
	c.lm, c.dict = m.File("lm"), m.File("dict")
	if c.lm == "" || c.dict == "" {
		return fmt.Errorf("pocketsphinx: model %q lacks role lm or dict: %w", c.model, speech.ErrModel)
	}
	verified := map[string]bool{}
	for _, f := range m.Files {
		verified[f.Path] = true
		c.files = append(c.files, f)
	}
	sort.Slice(c.files, func(i, j int) bool { return c.files[i].Path < c.files[j].Path })
	for _, name := range autoLoaded() {
		p := filepath.Join(c.hmm, name)
		if _, err := os.Stat(p); err == nil && !verified[p] {
			return fmt.Errorf("pocketsphinx: unverified file %s would be loaded from the acoustic model directory: %w", p, speech.ErrModel)
		}
	}
	return c.check()
}

// check makes sure every file exists before native code sees it:
// PocketSphinx reports some missing files by exiting the process.
func (c config) check() error {
	paths := []string{c.lm, c.dict}
	for _, f := range hmmFiles() {
		paths = append(paths, filepath.Join(c.hmm, f.name))
	}
	for _, p := range paths {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("pocketsphinx: empty model path: %w", speech.ErrModel)
		}
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pocketsphinx: model file: %w: %w", speech.ErrModel, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("pocketsphinx: model file %s is not a regular file: %w", p, speech.ErrModel)
		}
	}
	return nil
}
