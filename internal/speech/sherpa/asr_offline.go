package sherpa

import (
	"context"
	"fmt"
	"strings"
	"sync"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// OfflineTranscriber is a loaded non-streaming sherpa-onnx model (whisper,
// moonshine v1, NeMo transducer / parakeet-tdt, NeMo CTC, paraformer). It implements
// speech.Transcriber: long recordings are cut at quiet points into pieces
// of at most max_chunk_seconds, decoded one by one (ctx is checked between
// pieces) and merged with absolute times.
type OfflineTranscriber struct {
	model asrModel
	opts  ASROptions

	mu  sync.RWMutex // read-held while decoding; Close takes it for writing
	rec *sherpa.OfflineRecognizer
}

var _ speech.Transcriber = (*OfflineTranscriber)(nil)

// NewOfflineTranscriber loads m, which must be a verified file-transcription
// model.
func NewOfflineTranscriber(m speech.ResolvedModel, opts ASROptions) (*OfflineTranscriber, error) {
	am, err := asrCheckModel(m, false)
	if err != nil {
		return nil, err
	}
	cfg := sherpa.OfflineRecognizerConfig{
		FeatConfig:     sherpa.FeatureConfig{SampleRate: asrSampleRate, FeatureDim: am.featDim},
		DecodingMethod: "greedy_search",
		MaxActivePaths: opts.MaxActivePaths,
	}
	mc := &cfg.ModelConfig
	mc.Tokens = m.File("tokens")
	mc.NumThreads = max(1, opts.Threads)
	mc.Provider = "cpu"
	switch am.family {
	case "offline-whisper":
		task := m.Meta["task"]
		if task == "" {
			task = "transcribe"
		}
		if task != "transcribe" && task != "translate" {
			return nil, fmt.Errorf("sherpa asr: model %q: %w: whisper task %q", m.Name, speech.ErrModel, task)
		}
		tail := -1 // sherpa-onnx's default
		if tp := m.Meta["tail_paddings"]; tp != "" {
			if tail, err = asrParseInt(tp, -1, 1000); err != nil {
				return nil, fmt.Errorf("sherpa asr: model %q: %w: tail_paddings: %w", m.Name, speech.ErrModel, err)
			}
		}
		mc.Whisper = sherpa.OfflineWhisperModelConfig{Encoder: m.File("encoder"), Decoder: m.File("decoder"),
			Language: m.Meta["language"], Task: task, TailPaddings: tail}
	case "offline-moonshine":
		mc.Moonshine = sherpa.OfflineMoonshineModelConfig{Preprocessor: m.File("preprocessor"), Encoder: m.File("encoder"),
			UncachedDecoder: m.File("uncached_decoder"), CachedDecoder: m.File("cached_decoder")}
	case "offline-paraformer":
		mc.Paraformer = sherpa.OfflineParaformerModelConfig{Model: m.File("model")}
		mc.ModelType = am.modelType
	case "offline-nemo-transducer":
		mc.Transducer = sherpa.OfflineTransducerModelConfig{Encoder: m.File("encoder"), Decoder: m.File("decoder"), Joiner: m.File("joiner")}
		mc.ModelType = am.modelType
	case "offline-nemo-ctc":
		mc.NemoCTC = sherpa.OfflineNemoEncDecCtcModelConfig{Model: m.File("model")}
		mc.ModelType = am.modelType
	}
	rec := sherpa.NewOfflineRecognizer(&cfg)
	if rec == nil {
		return nil, fmt.Errorf("sherpa asr: load %q: %w: sherpa-onnx refused the configuration", m.Name, speech.ErrModel)
	}
	return &OfflineTranscriber{model: am, opts: opts, rec: rec}, nil
}

// SampleRate is 16 kHz for every supported model.
func (t *OfflineTranscriber) SampleRate() int { return asrSampleRate }

// Info names the engine, role and verified files.
func (t *OfflineTranscriber) Info() speech.EngineInfo { return t.model.info("transcribe") }

// Close frees the model once running transcriptions have finished.
func (t *OfflineTranscriber) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rec != nil {
		sherpa.DeleteOfflineRecognizer(t.rec)
		t.rec = nil
	}
	return nil
}

// Transcribe decodes samples piece by piece. The language is fixed per
// loaded model (catalogue Meta "language"; sherpa-onnx exits the process on
// a language a multilingual whisper lacks, so it is never switched per
// call): asking for a different one gives speech.ErrUnsupported. Prompt is
// ignored; hotwords are refused, since no offline family here takes them.
func (t *OfflineTranscriber) Transcribe(ctx context.Context, samples []float32, opts speech.TranscribeOptions) (speech.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return speech.Transcript{}, err
	}
	if err := speech.CheckSamples(samples); err != nil {
		return speech.Transcript{}, fmt.Errorf("sherpa asr: %w", err)
	}
	if len(opts.Hotwords) > 0 {
		return speech.Transcript{}, fmt.Errorf("sherpa asr: hotwords in file transcription: %w", speech.ErrUnsupported)
	}
	if want, have := asrLang(opts.Language), asrLang(t.model.Meta["language"]); want != "" && have != "" && want != have {
		return speech.Transcript{}, fmt.Errorf("sherpa asr: model %q transcribes %q, not %q: %w", t.model.Name, have, want, speech.ErrUnsupported)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.rec == nil {
		return speech.Transcript{}, fmt.Errorf("sherpa asr: transcribe: %w", speech.ErrClosed)
	}
	out := speech.Transcript{Duration: asrElapsed(int64(len(samples))), Language: t.model.Meta["language"]}
	bounds := asrSplit(samples, int(t.opts.MaxChunkSeconds*asrSampleRate), asrSampleRate/50)
	var texts []string
	for i := 0; i+1 < len(bounds); i++ {
		if err := ctx.Err(); err != nil {
			return speech.Transcript{}, err
		}
		lo, hi := bounds[i], bounds[i+1]
		seg, lang, ok := t.decode(samples[lo:hi], lo, len(out.Segments))
		if ok {
			out.Segments = append(out.Segments, seg)
			texts = append(texts, seg.Text)
		}
		if out.Language == "" {
			out.Language = lang // whisper's detected language, if any
		}
		if opts.Progress != nil {
			opts.Progress(asrElapsed(int64(hi)))
		}
	}
	out.Text = strings.Join(texts, " ")
	return out, nil
}

// decode runs one piece starting at sample offset off; ok is false when it
// holds no words. lang is the language the model reports, if any.
func (t *OfflineTranscriber) decode(piece []float32, off, segment int) (r speech.Result, lang string, ok bool) {
	if len(piece) == 0 {
		return speech.Result{}, "", false
	}
	st := sherpa.NewOfflineStream(t.rec)
	defer sherpa.DeleteOfflineStream(st)
	st.AcceptWaveform(asrSampleRate, piece)
	t.rec.Decode(st)
	res := st.GetResult()
	text := asrText(res.Text)
	if text == "" {
		return speech.Result{}, res.Lang, false
	}
	base, limit := asrElapsed(int64(off)), asrElapsed(int64(off+len(piece)))
	r = speech.Result{Segment: segment, Text: text, Start: base, End: limit, Final: true}
	if len(res.Timestamps) == len(res.Tokens) && len(res.Tokens) > 0 {
		r.Words, r.Confidence = asrWords(res.Tokens, res.Timestamps, res.YsLogProbs, base, limit)
		if len(r.Words) > 0 {
			r.Start, r.End = r.Words[0].Start, r.Words[len(r.Words)-1].End
		}
	} else {
		r.Confidence = asrConfidence(res.YsLogProbs)
	}
	return r, res.Lang, true
}

// asrLang reduces a language tag to its primary subtag ("en-US" -> "en").
func asrLang(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return tag
}
