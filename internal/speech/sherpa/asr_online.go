package sherpa

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
)

// asrTailPadding is the silence pushed into a sherpa stream before its input
// is finished, so the last partial chunk of features is decoded too (as
// sherpa-onnx's own examples do). It never shows in Izwi's timeline: the
// padded stream is thrown away.
const asrTailPadding = 0.66 // seconds

// OnlineRecognizer is a loaded streaming sherpa-onnx model (transducer,
// paraformer or zipformer2-CTC). It implements speech.Recognizer; its
// streams are *OnlineStream.
type OnlineRecognizer struct {
	model    asrModel
	opts     ASROptions
	hotwords bool // per-stream hotwords can be honoured

	mu      sync.Mutex
	rec     *sherpa.OnlineRecognizer // nil once closed
	streams int                      // open streams; Close refuses while > 0
}

var _ speech.Recognizer = (*OnlineRecognizer)(nil)

// NewOnlineRecognizer loads m, which must be a verified streaming model.
func NewOnlineRecognizer(m speech.ResolvedModel, opts ASROptions) (*OnlineRecognizer, error) {
	am, err := asrCheckModel(m, true)
	if err != nil {
		return nil, err
	}
	// sherpa-onnx exits the process when a CTC or paraformer model is asked
	// for beam search, so refuse it here.
	if opts.DecodingMethod != "greedy_search" && am.family != "online-transducer" {
		return nil, fmt.Errorf("sherpa asr: model %q (%s) decodes only with greedy_search, not %s: %w", m.Name, am.family, opts.DecodingMethod, speech.ErrUnsupported)
	}
	cfg := sherpa.OnlineRecognizerConfig{
		FeatConfig:              sherpa.FeatureConfig{SampleRate: asrSampleRate, FeatureDim: am.featDim},
		DecodingMethod:          opts.DecodingMethod,
		MaxActivePaths:          opts.MaxActivePaths,
		Rule1MinTrailingSilence: opts.Rule1,
		Rule2MinTrailingSilence: opts.Rule2,
		Rule3MinUtteranceLength: opts.Rule3,
		HotwordsScore:           opts.HotwordsScore,
	}
	if opts.EnableEndpoint {
		cfg.EnableEndpoint = 1
	}
	mc := &cfg.ModelConfig
	mc.Tokens = m.File("tokens")
	mc.NumThreads = max(1, opts.Threads)
	mc.Provider = "cpu"
	switch am.family {
	case "online-transducer":
		mc.Transducer = sherpa.OnlineTransducerModelConfig{Encoder: m.File("encoder"), Decoder: m.File("decoder"), Joiner: m.File("joiner")}
		mc.ModelType = am.modelType
	case "online-paraformer":
		mc.Paraformer = sherpa.OnlineParaformerModelConfig{Encoder: m.File("encoder"), Decoder: m.File("decoder")}
		mc.ModelType = am.modelType
	case "online-zipformer2-ctc":
		mc.Zipformer2Ctc = sherpa.OnlineZipformer2CtcModelConfig{Model: m.File("model")}
		mc.ModelType = am.modelType
	}
	if p := m.File("bpe_vocab"); p != "" {
		mc.BpeVocab = p
		mc.ModelingUnit = "bpe"
	}
	if u := m.Meta["modeling_unit"]; u != "" {
		mc.ModelingUnit = u
	}
	rec := sherpa.NewOnlineRecognizer(&cfg)
	if rec == nil {
		return nil, fmt.Errorf("sherpa asr: load %q: %w: sherpa-onnx refused the configuration", m.Name, speech.ErrModel)
	}
	return &OnlineRecognizer{
		model: am, opts: opts, rec: rec,
		hotwords: am.family == "online-transducer" && opts.DecodingMethod == "modified_beam_search",
	}, nil
}

// SampleRate is 16 kHz for every supported model.
func (r *OnlineRecognizer) SampleRate() int { return asrSampleRate }

// Info names the engine, role and verified files.
func (r *OnlineRecognizer) Info() speech.EngineInfo { return r.model.info("asr") }

// Close frees the model. It refuses while streams are open, since freeing
// the native recognizer under them would crash the process.
func (r *OnlineRecognizer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec == nil {
		return nil
	}
	if r.streams > 0 {
		return fmt.Errorf("sherpa asr: close with %d streams open", r.streams)
	}
	sherpa.DeleteOnlineRecognizer(r.rec)
	r.rec = nil
	return nil
}

// NewStream starts an independent recognition stream. Hotwords need a
// transducer with decoding_method=modified_beam_search; otherwise they
// give speech.ErrUnsupported.
func (r *OnlineRecognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.Stream, error) {
	return r.NewOnlineStream(ctx, opts)
}

// NewOnlineStream is NewStream with the concrete type, for callers that
// batch streams with DecodeReady.
func (r *OnlineRecognizer) NewOnlineStream(ctx context.Context, opts speech.StreamOptions) (*OnlineStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hws := opts.Hotwords
	if opts.Context != "" && r.hotwords {
		// Prepared text biases a transducer through its rare words and
		// names (contextual biasing); a model that cannot bias ignores it.
		hws = append(append([]string(nil), hws...), prepare.Keyterms(opts.Context, maxContextTerms)...)
	}
	hw, err := asrHotwordsText(hws, r.model.Meta["hotwords_case"])
	if err != nil {
		return nil, err
	}
	if hw != "" && !r.hotwords {
		return nil, fmt.Errorf("sherpa asr: hotwords need a transducer with decoding_method=modified_beam_search: %w", speech.ErrUnsupported)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec == nil {
		return nil, fmt.Errorf("sherpa asr: new stream: %w", speech.ErrClosed)
	}
	s := &OnlineStream{r: r, hotwords: hw}
	if err := s.open(); err != nil {
		return nil, err
	}
	r.streams++
	return s, nil
}

// maxContextTerms bounds the hotwords a prepared text adds to a stream.
const maxContextTerms = 100

// asrHotwordsText joins hotwords the way sherpa-onnx's per-stream API takes
// them ("/"-separated phrases), refusing ones that would change that
// structure. Most English sherpa-onnx models spell tokens in upper case, so
// hotwords are upper-cased unless the catalogue's Meta["hotwords_case"]
// says "lower" or "keep".
func asrHotwordsText(hws []string, letterCase string) (string, error) {
	var out []string
	for _, h := range hws {
		h = strings.Join(strings.Fields(h), " ")
		if h == "" {
			continue
		}
		if strings.ContainsAny(h, "/:\x00") || len(h) > 200 {
			return "", fmt.Errorf("sherpa asr: %w: hotword %q has '/', ':' or NUL, or is too long", speech.ErrBadInput, h)
		}
		switch letterCase {
		case "lower":
			h = strings.ToLower(h)
		case "keep":
		default:
			h = strings.ToUpper(h)
		}
		out = append(out, h)
	}
	if len(out) > 1000 {
		return "", fmt.Errorf("sherpa asr: %w: %d hotwords (max 1000)", speech.ErrBadInput, len(out))
	}
	return strings.Join(out, "/"), nil
}

// DecodeReady decodes every given stream that has enough audio, batching
// the ready ones into one native call per round, until none is ready. It is
// for a live pipeline that pushes audio into many streams with Push and then
// collects each stream's results with Results. Streams must come from r,
// must not be used concurrently by another goroutine meanwhile, and closed
// streams are skipped.
func (r *OnlineRecognizer) DecodeReady(streams []*OnlineStream) {
	batch := make([]*sherpa.OnlineStream, 0, len(streams))
	for {
		batch = batch[:0]
		for _, s := range streams {
			if s != nil && s.s != nil && s.r == r && r.rec.IsReady(s.s) {
				batch = append(batch, s.s)
				s.decoded = true
			}
		}
		switch len(batch) {
		case 0:
			return
		case 1:
			r.rec.Decode(batch[0])
		default:
			r.rec.DecodeStreams(batch)
		}
	}
}

// decodeOne decodes s alone until it needs more audio and reports whether
// it decoded anything.
func (r *OnlineRecognizer) decodeOne(s *sherpa.OnlineStream) bool {
	n := 0
	for ; r.rec.IsReady(s); n++ {
		r.rec.Decode(s)
	}
	return n > 0
}

// Streams reports the open streams; sherpa-onnx has no fixed bound.
func (r *OnlineRecognizer) Streams() (inUse, capacity int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.streams, 0
}

var _ speech.StreamCounter = (*OnlineRecognizer)(nil)

// release is called by a closing stream.
func (r *OnlineRecognizer) release() {
	r.mu.Lock()
	r.streams--
	r.mu.Unlock()
}

// asrElapsed converts a sample count to a duration at the model's rate.
func asrElapsed(n int64) time.Duration {
	return time.Duration(n * int64(time.Second) / asrSampleRate)
}
