package models

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/finite"
)

// family describes what a model family looks like: which engine loads it,
// which file roles it must and may have, and which meta keys it accepts.
type family struct {
	engine   string
	required []string
	optional []string
	// prefixes are role prefixes for open-ended file sets
	// ("espeak-ng-data/", "hmm/").
	prefixes []string
	meta     map[string]metaRule
}

func (f family) allowsRole(role string) bool {
	if slices.Contains(f.required, role) || slices.Contains(f.optional, role) {
		return true
	}
	for _, p := range f.prefixes {
		if rest, ok := strings.CutPrefix(role, p); ok && rest != "" && checkRelPath(rest) == nil {
			return true
		}
	}
	return false
}

// metaRule checks one declarative value. Values are data only: enumerations,
// bounded numbers and language codes, never code, templates or paths.
type metaRule func(v string) error

func oneOf(vals ...string) metaRule {
	return func(v string) error {
		if !slices.Contains(vals, v) {
			return fmt.Errorf("must be one of %v", vals)
		}
		return nil
	}
}

func intIn(lo, hi int) metaRule {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi || strconv.Itoa(n) != v {
			return fmt.Errorf("must be an integer in [%d, %d]", lo, hi)
		}
		return nil
	}
}

func floatIn(lo, hi float64) metaRule {
	return func(v string) error {
		_, err := finite.In(v, lo, hi)
		if err != nil || len(v) > 16 {
			return fmt.Errorf("must be a number in [%g, %g]", lo, hi)
		}
		return nil
	}
}

var langCode = regexp.MustCompile(`^[a-z]{2,3}$`)

func language(v string) error {
	if !langCode.MatchString(v) {
		return fmt.Errorf("must be a 2-3 letter language code")
	}
	return nil
}

var sampleRate = intIn(8000, 48000)

// voiceEntry is one "id[:gender]" item of a tts voices list, in speaker order.
var voiceEntry = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}(:(female|male|neutral))?$`)

func voiceList(v string) error {
	items := strings.Split(v, ",")
	if len(items) > 1024 {
		return fmt.Errorf("at most 1024 voices")
	}
	for _, it := range items {
		if !voiceEntry.MatchString(strings.TrimSpace(it)) {
			return fmt.Errorf("voice %q must look like id[:female|male|neutral]", it)
		}
	}
	return nil
}

// familyTable is the allow-list of model families Izwi's engines load. It is
// a function, not a package variable, so nothing can mutate it.
func familyTable() map[string]family {
	return map[string]family{
		"online-transducer": {engine: "sherpa",
			required: []string{"encoder", "decoder", "joiner", "tokens"},
			optional: []string{"bpe_vocab"},
			meta: map[string]metaRule{
				"model_type":  oneOf("zipformer", "zipformer2", "conformer", "lstm"),
				"sample_rate": sampleRate, "feature_dim": intIn(40, 128),
				"modeling_unit": oneOf("bpe", "cjkchar", "cjkchar+bpe"),
				"hotwords_case": oneOf("upper", "lower", "keep"),
			}},
		"online-paraformer": {engine: "sherpa",
			required: []string{"encoder", "decoder", "tokens"},
			meta:     map[string]metaRule{"sample_rate": sampleRate, "feature_dim": intIn(40, 128), "model_type": oneOf("paraformer")}},
		"online-zipformer2-ctc": {engine: "sherpa",
			required: []string{"model", "tokens"},
			meta:     map[string]metaRule{"sample_rate": sampleRate, "feature_dim": intIn(40, 128), "model_type": oneOf("zipformer2_ctc")}},
		"offline-paraformer": {engine: "sherpa",
			required: []string{"model", "tokens"},
			meta:     map[string]metaRule{"sample_rate": sampleRate, "model_type": oneOf("paraformer")}},
		"offline-nemo-ctc": {engine: "sherpa",
			required: []string{"model", "tokens"},
			meta:     map[string]metaRule{"sample_rate": sampleRate, "feature_dim": intIn(40, 128), "model_type": oneOf("nemo_ctc")}},
		"offline-whisper": {engine: "sherpa",
			required: []string{"encoder", "decoder", "tokens"},
			meta: map[string]metaRule{
				"language": language, "task": oneOf("transcribe", "translate"),
				"tail_paddings": intIn(-1, 1000), "sample_rate": sampleRate,
			}},
		"offline-moonshine": {engine: "sherpa",
			required: []string{"preprocessor", "encoder", "uncached_decoder", "cached_decoder", "tokens"},
			meta:     map[string]metaRule{"sample_rate": sampleRate, "model_type": oneOf("moonshine")}},
		"offline-nemo-transducer": {engine: "sherpa",
			required: []string{"encoder", "decoder", "joiner", "tokens"},
			meta: map[string]metaRule{
				"model_type": oneOf("nemo_transducer"), "sample_rate": sampleRate,
				"feature_dim": intIn(40, 128),
			}},
		"speaker-embedding": {engine: "sherpa",
			required: []string{"model"},
			meta:     map[string]metaRule{"dim": intIn(16, 4096), "sample_rate": sampleRate}},
		"vad-silero": {engine: "sherpa",
			required: []string{"model"},
			meta: map[string]metaRule{
				"threshold": floatIn(0, 1), "min_silence_duration": floatIn(0, 10),
				"min_speech_duration": floatIn(0, 10), "max_speech_duration": floatIn(0, 600),
				"window_size": oneOf("256", "512", "1024", "1536"), "sample_rate": oneOf("8000", "16000"),
			}},
		"tts-vits": {engine: "sherpa",
			required: []string{"model", "tokens"},
			optional: []string{"lexicon"},
			prefixes: []string{"espeak-ng-data/"},
			meta: map[string]metaRule{
				"sample_rate": sampleRate, "language": language, "num_speakers": intIn(1, 10000),
				"length_scale": floatIn(0.1, 10), "noise_scale": floatIn(0, 2), "noise_scale_w": floatIn(0, 2),
				"gender": oneOf("female", "male", "neutral"), "voices": voiceList,
			}},
		"tts-kokoro": {engine: "sherpa",
			required: []string{"model", "voices", "tokens"},
			optional: []string{"lexicon"},
			prefixes: []string{"espeak-ng-data/"},
			meta: map[string]metaRule{
				"sample_rate": sampleRate, "language": language, "lang": oneOf("en-us", "en-gb", "en"),
				"length_scale": floatIn(0.1, 10), "gender": oneOf("female", "male", "neutral"), "voices": voiceList,
			}},
		"pocketsphinx": {engine: "pocketsphinx",
			required: []string{"lm", "dict", "hmm/mdef"},
			prefixes: []string{"hmm/"},
			meta:     map[string]metaRule{"sample_rate": oneOf("8000", "16000"), "language": language}},
	}
}

func lookupFamily(name string) (family, bool) {
	f, ok := familyTable()[name]
	return f, ok
}

// validateMeta rejects unknown keys and values that break their rule.
func validateMeta(fam string, meta map[string]string) error {
	f, _ := lookupFamily(fam)
	rules := f.meta
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rule, ok := rules[k]
		if !ok {
			return fmt.Errorf("meta key %q is not allowed for family %q", k, fam)
		}
		if err := rule(meta[k]); err != nil {
			return fmt.Errorf("meta %s=%q: %v", k, meta[k], err)
		}
	}
	return nil
}
