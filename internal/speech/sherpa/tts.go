package sherpa

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// maxTextBytes bounds one synthesis request; longer text should be split by
// the caller (the HTTP layer caps request bodies well below this).
const maxTextBytes = 64 << 10

// TTS options (Spec.Options), all optional:
//
//	noise_scale    VITS noise, default 0.667
//	noise_scale_w  VITS duration noise, default 0.8
//	length_scale   base duration scale (Speed divides it), default 1.0
var ttsOptions = []string{"noise_scale", "noise_scale_w", "length_scale"}

// Synthesizer is a sherpa-onnx offline TTS model (VITS: Piper, Coqui,
// icefall, or lexicon-based; Kokoro) loaded once and shared: generation is
// const in sherpa-onnx and onnxruntime sessions are safe for concurrent Run.
type Synthesizer struct {
	info   speech.EngineInfo
	rate   int
	voices []speech.Voice
	lex    lexicon // set for lexicon-based models; see lexicon

	mu     sync.RWMutex // held for reading by Synthesize, for writing by Close
	tts    *sherpa.OfflineTts
	closed bool
}

var _ speech.Synthesizer = (*Synthesizer)(nil)

// NewSynthesizer is the registry factory for the "sherpa" TTS engine.
//
// Roles for a VITS model (Family "tts-vits" or "vits", or meta "model_type"
// "vits"; the default):
// "model", "tokens", and either "lexicon" or the espeak-ng data files under
// roles "espeak-ng-data/<file>" (Piper); meta "frontend" = "characters" needs
// neither. A Kokoro model (Family or meta "model_type" "kokoro") needs
// "model", "voices", "tokens" and the espeak-ng data files (Family
// "tts-kokoro" or "kokoro"). Meta "voices" names the speakers (see
// parseVoices), "language" and "gender" describe them, and "noise_scale",
// "noise_scale_w", "length_scale" set defaults for the options below.
func NewSynthesizer(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Synthesizer, error) {
	m, err := resolve(ctx, spec, deps, "tts")
	if err != nil {
		return nil, err
	}
	return newSynthesizer(m, spec)
}

func newSynthesizer(m speech.ResolvedModel, spec speech.Spec) (*Synthesizer, error) {
	if err := checkOptions(spec.Options, ttsOptions...); err != nil {
		return nil, err
	}
	// Catalogue settings are the defaults; spec options override them.
	o := map[string]string{}
	for _, k := range ttsOptions {
		if v, ok := m.Meta[k]; ok {
			o[k] = v
		}
	}
	maps.Copy(o, spec.Options)
	noise, err := floatOption(o, "noise_scale", 0.667, 0, 2)
	if err != nil {
		return nil, err
	}
	noiseW, err := floatOption(o, "noise_scale_w", 0.8, 0, 2)
	if err != nil {
		return nil, err
	}
	length, err := floatOption(o, "length_scale", 1, 0.25, 4)
	if err != nil {
		return nil, err
	}
	dataDir, err := espeakDataDir(m)
	if err != nil {
		return nil, err
	}
	kind := m.Meta["model_type"]
	if kind == "" {
		kind = strings.TrimPrefix(m.Family, "tts-") // package models says "tts-vits"
	}
	cfg := sherpa.OfflineTtsConfig{MaxNumSentences: 1, SilenceScale: 1}
	cfg.Model.NumThreads = threads(spec)
	cfg.Model.Provider = "cpu"
	roles := []string{"model", "tokens"}
	usesLexicon := false // text goes through lexicon.txt, whose words we filter
	switch kind {
	case "kokoro":
		roles = append(roles, "voices")
		if m.File("lexicon") != "" {
			roles = append(roles, "lexicon")
		}
		if err := requireFiles(m, roles...); err != nil {
			return nil, err
		}
		if dataDir == "" {
			return nil, fmt.Errorf("sherpa: tts: kokoro model %q has no espeak-ng-data files: %w", m.Name, speech.ErrModel)
		}
		meta, err := readONNXMetadata(m.File("model"))
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(m.File("voices"))
		if err != nil {
			return nil, fmt.Errorf("sherpa: tts: %w: %w", speech.ErrModel, err)
		}
		if err := checkKokoroMeta(meta, st.Size()); err != nil {
			return nil, metaErr("tts", m.Name, err)
		}
		// Multilingual Kokoro (metadata version ≥ 2) exits without a lexicon
		// or a language; the espeak voice is always given.
		lang := m.Meta["lang"]
		if lang == "" {
			lang = "en-us"
		}
		cfg.Model.Kokoro = sherpa.OfflineTtsKokoroModelConfig{Model: m.File("model"), Voices: m.File("voices"),
			Tokens: m.File("tokens"), DataDir: dataDir, Lexicon: m.File("lexicon"), Lang: lang, LengthScale: length}
	case "", "vits", "piper":
		if m.File("lexicon") != "" {
			roles = append(roles, "lexicon")
		}
		if err := requireFiles(m, roles...); err != nil {
			return nil, err
		}
		meta, err := readONNXMetadata(m.File("model"))
		if err != nil {
			return nil, err
		}
		if err := checkVITSMeta(meta, m.File("lexicon") != "", dataDir != ""); err != nil {
			return nil, metaErr("tts", m.Name, err)
		}
		usesLexicon = m.File("lexicon") != "" && dataDir == "" && meta["frontend"] != "characters"
		cfg.Model.Vits = sherpa.OfflineTtsVitsModelConfig{Model: m.File("model"), Lexicon: m.File("lexicon"),
			Tokens: m.File("tokens"), DataDir: dataDir, NoiseScale: noise, NoiseScaleW: noiseW, LengthScale: length}
	default:
		return nil, fmt.Errorf("sherpa: tts: model %q type %q is not a TTS model this engine loads: %w", m.Name, kind, speech.ErrModel)
	}
	var lex lexicon
	if usesLexicon {
		if lex, err = readLexicon(m.File("lexicon")); err != nil {
			return nil, err
		}
	}
	tts := sherpa.NewOfflineTts(&cfg)
	if tts == nil {
		return nil, fmt.Errorf("sherpa: tts: model %q failed to load: %w", m.Name, speech.ErrModel)
	}
	voices, err := parseVoices(m.Meta["voices"], tts.NumSpeakers(), m.Meta["language"], m.Meta["gender"])
	if err != nil {
		sherpa.DeleteOfflineTts(tts)
		return nil, err
	}
	return &Synthesizer{info: info("tts", m), rate: tts.SampleRate(), voices: voices, lex: lex, tts: tts}, nil
}

func readLexicon(path string) (lexicon, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sherpa: tts: %w: %w", speech.ErrModel, err)
	}
	defer f.Close()
	return parseLexicon(f)
}

// espeakDataDir returns the directory holding the model's verified
// espeak-ng-data files (roles "espeak-ng-data/<file>"), or "".
func espeakDataDir(m speech.ResolvedModel) (string, error) {
	var roles []string
	for role := range m.Files {
		if strings.HasPrefix(role, "espeak-ng-data/") {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		return "", nil
	}
	sort.Strings(roles)
	if err := requireFiles(m, roles...); err != nil {
		return "", err
	}
	// The data dir is the prefix of the first file's path before its role.
	p := filepath.ToSlash(m.File(roles[0]))
	dir, ok := strings.CutSuffix(p, roles[0])
	if !ok {
		return "", fmt.Errorf("sherpa: tts: model %q: %s is not under an espeak-ng-data directory: %w", m.Name, roles[0], speech.ErrModel)
	}
	return filepath.FromSlash(dir + "espeak-ng-data"), nil
}

// SampleRate is the model's output rate.
func (s *Synthesizer) SampleRate() int { return s.rate }

// Voices lists the model's speakers; voice i is sherpa-onnx speaker id i.
func (s *Synthesizer) Voices() []speech.Voice { return append([]speech.Voice(nil), s.voices...) }

// Info describes the loaded model.
func (s *Synthesizer) Info() speech.EngineInfo { return s.info }

// Synthesize speaks req.Text, passing each sentence's audio to sink as soon
// as sherpa-onnx makes it (MaxNumSentences = 1 makes a callback per
// sentence). ctx and sink errors stop generation at the next sentence.
func (s *Synthesizer) Synthesize(ctx context.Context, req speech.SynthesisRequest, sink func([]float32) error) error {
	text := strings.TrimSpace(req.Text)
	switch {
	case text == "":
		return fmt.Errorf("sherpa: tts: empty text: %w", speech.ErrBadInput)
	case len(text) > maxTextBytes:
		return fmt.Errorf("sherpa: tts: text is %d bytes (max %d): %w", len(text), maxTextBytes, speech.ErrBadInput)
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return fmt.Errorf("sherpa: tts: text is not valid UTF-8: %w", speech.ErrBadInput)
	}
	speed := req.Speed
	if speed == 0 {
		speed = 1
	}
	if speed != speed || speed < 0.25 || speed > 4 {
		return fmt.Errorf("sherpa: tts: speed %v outside [0.25, 4]: %w", req.Speed, speech.ErrBadInput)
	}
	if s.lex != nil {
		var words int
		if text, words = s.lex.sayable(text); words == 0 {
			return fmt.Errorf("sherpa: tts: text has no words the model can say: %w", speech.ErrBadInput)
		}
	}
	sid, err := speakerID(s.voices, req.Voice)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sherpa: tts: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("sherpa: tts: %w", speech.ErrClosed)
	}
	var stop error
	made := 0
	// The callback runs on this goroutine, inside the cgo call.
	s.tts.GenerateWithCallback(text, sid, speed, func(samples []float32) bool {
		if stop != nil {
			return false
		}
		if err := ctx.Err(); err != nil {
			stop = fmt.Errorf("sherpa: tts: %w", err)
			return false
		}
		if len(samples) == 0 {
			return true
		}
		for i, v := range samples { // VITS can overshoot [-1, 1] slightly
			samples[i] = min(max(v, -1), 1)
		}
		made += len(samples)
		if err := sink(samples); err != nil {
			stop = err
			return false
		}
		return true
	})
	if stop != nil {
		return stop
	}
	if made == 0 {
		return fmt.Errorf("sherpa: tts: text gave no audio (no words the model can say): %w", speech.ErrBadInput)
	}
	return nil
}

// Close waits for running syntheses and frees the model.
func (s *Synthesizer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		sherpa.DeleteOfflineTts(s.tts)
		s.tts = nil
	}
	return nil
}
