package sherpa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/speech"
)

// The checks below mirror what sherpa-onnx 1.13.8 reads from a model's
// metadata while loading it: where it would call exit() on a missing or
// unexpected value, the engine refuses the model with ErrModel instead.

func needInt(meta map[string]string, key string, lo, hi int) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(meta[key]))
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("metadata %s=%q: want an integer in [%d, %d]", key, meta[key], lo, hi)
	}
	return v, nil
}

func needString(meta map[string]string, key string) error {
	if meta[key] == "" {
		return fmt.Errorf("metadata %s is missing", key)
	}
	return nil
}

func metaErr(role, model string, err error) error {
	return fmt.Errorf("sherpa: %s: model %q: %w: %w", role, model, speech.ErrModel, err)
}

// checkSpeakerMeta checks a speaker-embedding model's metadata.
func checkSpeakerMeta(meta map[string]string) error {
	fw := meta["framework"]
	switch fw {
	case "wespeaker", "3d-speaker":
		for _, k := range []string{"language"} {
			if err := needString(meta, k); err != nil {
				return err
			}
		}
		if _, err := needInt(meta, "normalize_samples", 0, 1); err != nil {
			return err
		}
		if t := meta["feature_normalize_type"]; t != "" && t != "global-mean" {
			return fmt.Errorf("metadata feature_normalize_type=%q: want \"\" or global-mean", t)
		}
	case "nemo":
	default:
		return fmt.Errorf("metadata framework=%q: want wespeaker, 3d-speaker or nemo", fw)
	}
	if _, err := needInt(meta, "output_dim", 1, 1<<16); err != nil {
		return err
	}
	_, err := needInt(meta, "sample_rate", 8000, 48000)
	return err
}

// checkVITSMeta checks a VITS model's metadata against the files given.
func checkVITSMeta(meta map[string]string, hasLexicon, hasDataDir bool) error {
	if _, err := needInt(meta, "sample_rate", 8000, 48000); err != nil {
		return err
	}
	if _, err := needInt(meta, "n_speakers", 0, maxVoices); err != nil {
		return err
	}
	for _, k := range []string{"language", "comment"} {
		if err := needString(meta, k); err != nil {
			return err
		}
	}
	if meta["jieba"] == "1" {
		return fmt.Errorf("metadata jieba=1: Chinese models with a jieba dictionary are not supported")
	}
	comment := meta["comment"]
	if strings.Contains(comment, "melo") {
		if v, err := strconv.Atoi(meta["version"]); err != nil || v < 2 {
			return fmt.Errorf("metadata version=%q: MeloTTS needs version 2 or later", meta["version"])
		}
	}
	espeakFrontEnd := hasDataDir && (strings.Contains(comment, "piper") || strings.Contains(comment, "coqui") || strings.Contains(comment, "icefall"))
	if meta["frontend"] == "characters" || espeakFrontEnd {
		return nil
	}
	// Otherwise sherpa-onnx uses lexicon.txt, and exits without one or on
	// a language its lexicon front end does not know.
	if !hasLexicon {
		return fmt.Errorf("model needs a lexicon (or espeak-ng-data for piper/coqui/icefall models)")
	}
	switch strings.ToLower(meta["language"]) {
	case "english", "german", "spanish", "french", "chinese":
		return nil
	}
	return fmt.Errorf("metadata language=%q: the lexicon front end knows English, German, Spanish, French and Chinese", meta["language"])
}

// checkKokoroMeta checks a Kokoro model's metadata against the size of
// its voices file, which sherpa-onnx requires to be exactly
// n_speakers × style_dim[0] × style_dim[2] floats.
func checkKokoroMeta(meta map[string]string, voicesBytes int64) error {
	if _, err := needInt(meta, "sample_rate", 8000, 48000); err != nil {
		return err
	}
	n, err := needInt(meta, "n_speakers", 1, maxVoices)
	if err != nil {
		return err
	}
	if _, err := needInt(meta, "has_espeak", 0, 1); err != nil {
		return err
	}
	parts := strings.Split(meta["style_dim"], ",")
	dims := make([]int, 0, 3)
	for _, s := range parts {
		d, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || d < 1 || d > 1<<16 {
			break
		}
		dims = append(dims, d)
	}
	if len(parts) != 3 || len(dims) != 3 || dims[1] != 1 {
		return fmt.Errorf("metadata style_dim=%q: want \"N,1,D\"", meta["style_dim"])
	}
	if want := int64(n) * int64(dims[0]) * int64(dims[2]) * 4; voicesBytes != want {
		return fmt.Errorf("voices file is %d bytes, metadata says %d speakers × %d × %d floats (%d bytes)", voicesBytes, n, dims[0], dims[2], want)
	}
	return nil
}
