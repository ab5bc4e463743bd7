package sherpa

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// asrEngine is the name the ASR factories register under.
const asrEngine = Engine

// asrSampleRate is the rate every supported sherpa ASR model expects.
const asrSampleRate = 16000

// asrFamilyFor describes the model families (ResolvedModel.Meta["family"])
// the ASR factories load: the file roles each needs and the model_type
// values accepted for it. Anything else is refused in Go before sherpa-onnx
// sees it, because sherpa-onnx exits the whole process on metadata it does
// not understand.
func asrFamilyFor(family string) (asrFamily, bool) {
	switch family {
	case "online-transducer":
		return asrFamily{online: true, roles: []string{"encoder", "decoder", "joiner", "tokens"}, types: []string{"zipformer2", "zipformer", "lstm", "conformer"}}, true
	case "online-paraformer":
		return asrFamily{online: true, roles: []string{"encoder", "decoder", "tokens"}, types: []string{"paraformer"}}, true
	case "online-zipformer2-ctc":
		return asrFamily{online: true, roles: []string{"model", "tokens"}, types: []string{"zipformer2_ctc"}}, true
	case "offline-whisper":
		return asrFamily{roles: []string{"encoder", "decoder", "tokens"}, types: []string{"whisper"}}, true
	case "offline-paraformer":
		return asrFamily{roles: []string{"model", "tokens"}, types: []string{"paraformer"}}, true
	case "offline-moonshine":
		return asrFamily{roles: []string{"preprocessor", "encoder", "uncached_decoder", "cached_decoder", "tokens"}, types: []string{"moonshine"}}, true
	case "offline-nemo-transducer":
		return asrFamily{roles: []string{"encoder", "decoder", "joiner", "tokens"}, types: []string{"nemo_transducer"}}, true
	case "offline-nemo-ctc":
		return asrFamily{roles: []string{"model", "tokens"}, types: []string{"nemo_ctc"}}, true
	}
	return asrFamily{}, false
}

// asrFamily describes one loadable model family.
type asrFamily struct {
	online bool
	roles  []string
	types  []string
}

// asrModel is a ResolvedModel checked against its family's needs.
type asrModel struct {
	speech.ResolvedModel
	family    string
	modelType string
	featDim   int // Meta "feature_dim", default 80
}

// asrCheckModel refuses a model whose family, model_type or files do not
// fit what sherpa-onnx needs, with an error wrapping speech.ErrModel.
func asrCheckModel(m speech.ResolvedModel, online bool) (asrModel, error) {
	fam := m.Meta["family"]
	if fam == "" {
		fam = m.Family
	}
	f, ok := asrFamilyFor(fam)
	if !ok {
		return asrModel{}, fmt.Errorf("sherpa asr: model %q: %w: unknown family %q", m.Name, speech.ErrModel, fam)
	}
	if f.online != online {
		want := "a streaming"
		if !online {
			want = "a file-transcription"
		}
		return asrModel{}, fmt.Errorf("sherpa asr: model %q (family %s) is not %s model: %w", m.Name, fam, want, speech.ErrUnsupported)
	}
	mt := m.Meta["model_type"]
	if mt == "" {
		mt = f.types[0]
	}
	if !slices.Contains(f.types, mt) {
		return asrModel{}, fmt.Errorf("sherpa asr: model %q: %w: model_type %q not one of %v for family %s", m.Name, speech.ErrModel, mt, f.types, fam)
	}
	// requireFiles (common.go) also checks sizes against the verified ones.
	if err := requireFiles(m, f.roles...); err != nil {
		return asrModel{}, fmt.Errorf("sherpa asr: %w", err)
	}
	if tokens, err := os.ReadFile(m.File("tokens")); err != nil {
		return asrModel{}, fmt.Errorf("sherpa asr: model %q tokens: %w: %w", m.Name, speech.ErrModel, err)
	} else if err := asrCheckTokens(tokens, fam); err != nil {
		return asrModel{}, fmt.Errorf("sherpa asr: model %q: %w: %w", m.Name, speech.ErrModel, err)
	}
	if _, ok := m.Files["bpe_vocab"]; ok {
		if err := requireFiles(m, "bpe_vocab"); err != nil {
			return asrModel{}, fmt.Errorf("sherpa asr: %w", err)
		}
	}
	// Every supported model hears 16 kHz; Izwi's callers resample to
	// SampleRate(), so a catalogue saying otherwise is refused, not obeyed.
	if sr := m.Meta["sample_rate"]; sr != "" && sr != "16000" {
		return asrModel{}, fmt.Errorf("sherpa asr: model %q: sample_rate %s: %w", m.Name, sr, speech.ErrUnsupported)
	}
	featDim := 80
	if fd := m.Meta["feature_dim"]; fd != "" {
		n, err := asrParseInt(fd, 40, 128)
		if err != nil {
			return asrModel{}, fmt.Errorf("sherpa asr: model %q: %w: feature_dim: %w", m.Name, speech.ErrModel, err)
		}
		featDim = n
	}
	return asrModel{ResolvedModel: m, family: fam, modelType: mt, featDim: featDim}, nil
}

// info describes the loaded model for EngineInfo.
func (m asrModel) info(role string) speech.EngineInfo {
	inf := speech.EngineInfo{Engine: asrEngine, Role: role, Model: m.Name, Library: Library()}
	if l := asrLang(m.Meta["language"]); l != "" {
		inf.Languages = []string{l}
	}
	roles := make([]string, 0, len(m.Files))
	for r := range m.Files {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	for _, r := range roles {
		inf.Files = append(inf.Files, m.Files[r])
	}
	return inf
}

// ASROptions are the engine-specific settings read from speech.Spec.Options
// (all optional):
//
//	decoding_method            greedy_search (default) | modified_beam_search
//	max_active_paths           beam size for modified_beam_search (default 4)
//	enable_endpoint            true (default) | false
//	rule1_min_trailing_silence seconds of silence ending a segment with no words (2.4)
//	rule2_min_trailing_silence seconds of silence ending a segment after words (1.2)
//	rule3_min_utterance_length longest segment in seconds (20)
//	hotwords_score             bonus per hotword token (1.5)
//	max_chunk_seconds          longest piece a file transcriber decodes at once (25)
type ASROptions struct {
	Threads         int
	DecodingMethod  string
	MaxActivePaths  int
	EnableEndpoint  bool
	Rule1           float32
	Rule2           float32
	Rule3           float32
	HotwordsScore   float32
	MaxChunkSeconds float32
}

// DefaultASROptions are sherpa-onnx's own defaults.
func DefaultASROptions() ASROptions {
	return ASROptions{Threads: 1, DecodingMethod: "greedy_search", MaxActivePaths: 4,
		EnableEndpoint: true, Rule1: 2.4, Rule2: 1.2, Rule3: 20, HotwordsScore: 1.5,
		MaxChunkSeconds: 25}
}

// ParseASROptions reads spec.Threads and spec.Options over the defaults. Unknown
// keys and bad values are errors (wrapping speech.ErrBadInput): a typo in a
// config file must not silently fall back to a default.
func ParseASROptions(threads int, opts map[string]string) (ASROptions, error) {
	o := DefaultASROptions()
	if threads > 0 {
		o.Threads = threads
	}
	if threads < 0 || threads > 64 {
		return o, fmt.Errorf("sherpa asr: %w: threads %d outside [0, 64]", speech.ErrBadInput, threads)
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic first error
	for _, k := range keys {
		v := strings.TrimSpace(opts[k])
		var err error
		switch k {
		case "decoding_method":
			if v != "greedy_search" && v != "modified_beam_search" {
				err = fmt.Errorf("want greedy_search or modified_beam_search")
			}
			o.DecodingMethod = v
		case "max_active_paths":
			o.MaxActivePaths, err = asrParseInt(v, 1, 64)
		case "enable_endpoint":
			o.EnableEndpoint, err = strconv.ParseBool(v)
		case "rule1_min_trailing_silence":
			o.Rule1, err = asrParseFloat(v, 0, 60)
		case "rule2_min_trailing_silence":
			o.Rule2, err = asrParseFloat(v, 0, 60)
		case "rule3_min_utterance_length":
			o.Rule3, err = asrParseFloat(v, 0.5, 600)
		case "hotwords_score":
			o.HotwordsScore, err = asrParseFloat(v, 0, 100)
		case "max_chunk_seconds":
			o.MaxChunkSeconds, err = asrParseFloat(v, 1, 30)
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			return o, fmt.Errorf("sherpa asr: %w: option %s=%q: %w", speech.ErrBadInput, k, v, err)
		}
	}
	return o, nil
}

func asrParseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d outside [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func asrParseFloat(s string, lo, hi float64) (float32, error) {
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return 0, err
	}
	if !(f >= lo && f <= hi) { // also refuses NaN
		return 0, fmt.Errorf("%v outside [%v, %v]", f, lo, hi)
	}
	return float32(f), nil
}

// asrResolve loads the catalogue model spec names through deps.Models.
func asrResolve(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.ResolvedModel, ASROptions, error) {
	opts, err := ParseASROptions(spec.Threads, spec.Options)
	if err != nil {
		return speech.ResolvedModel{}, opts, err
	}
	if spec.Model == "" {
		return speech.ResolvedModel{}, opts, fmt.Errorf("sherpa asr: %w: spec names no model", speech.ErrModel)
	}
	if deps.Models == nil {
		return speech.ResolvedModel{}, opts, fmt.Errorf("sherpa asr: %w: no model resolver", speech.ErrModel)
	}
	m, err := deps.Models.Resolve(ctx, spec.Model)
	if err != nil {
		return speech.ResolvedModel{}, opts, fmt.Errorf("sherpa asr: resolve %q: %w", spec.Model, err)
	}
	return m, opts, nil
}

// RegisterASR registers the "sherpa" streaming recognizer and file
// transcriber factories. Which one a model serves follows its family.
func RegisterASR(r *speech.Registry) {
	r.Recognizers.Register(asrEngine, func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Recognizer, error) {
		m, opts, err := asrResolve(ctx, spec, deps)
		if err != nil {
			return nil, err
		}
		return NewOnlineRecognizer(m, opts)
	})
	r.Transcribers.Register(asrEngine, func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Transcriber, error) {
		m, opts, err := asrResolve(ctx, spec, deps)
		if err != nil {
			return nil, err
		}
		return NewOfflineTranscriber(m, opts)
	})
}
