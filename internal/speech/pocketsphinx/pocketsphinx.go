// Package pocketsphinx owns Izwi's zero-download offline speech recogniser:
// Debian's PocketSphinx 5prealpha (the old ps_init/ps_process_raw API) with
// the pocketsphinx-en-us model, wrapped over cgo as a speech.Recognizer and,
// through speech.StreamTranscriber, a speech.Transcriber.
//
// Endpointing has two profiles (config.go). Files (the transcribe role)
// follow pocketsphinx_continuous exactly: audio goes to the decoder in
// 2048-sample blocks and an utterance ends when the decoder's voice
// activity detector drops out of speech after a block, so file
// transcription matches the CLI word for word. Live streams (the asr role)
// use 512-sample blocks, end an utterance after 150 ms of silence and skip
// the fwdflat pass, for finals ~0.2 s after the last word. Because blocks
// are rebuilt from whatever the caller pushes, results never depend on the
// caller's chunk size.
//
// A PocketSphinx decoder is neither thread-safe nor clonable in this
// version, so a Recognizer keeps a bounded pool of decoders: each open
// Stream owns one, and Close returns it for reuse (with its cepstral mean
// reset, so nothing of one stream's audio shapes the next). The language
// model is loaded once per process and read by every decoder of every
// role through a view with its own score caches (sharedlm.go, which
// reaches into sphinxbase's private structures, checked at load and by
// TestSharedLMParity); the dictionary, cut to that model's words
// (cutdict.go), is loaded once too and shared the same way
// (shareddict.go). What remains per decoder, ~27 MiB with
// pocketsphinx-en-us, is the acoustic model and the search
// (BenchmarkDecoderMemory; docs/benchmarks.md has the breakdown), and it
// takes 0.15 to 0.25 s to build on the 2-core reference box
// (BenchmarkModelLoad/shared). So the pool is small by default (option
// "decoders", default 4), NewStream waits for a free decoder rather than
// loading without bound, and decoders idle for 30 s are freed, every one
// of them: a live session builds its decoder when it opens, before audio
// arrives. The language model's n-gram arrays are read in place from the
// model file (lmmap.h), page cache rather than private memory.
//
// spec.Options: "decoders" (pool bound, 1 to 256), "partials" (true/false,
// default true for asr, false for transcribe), "samprate" (Hz), "endpoint"
// (10 ms frames of silence ending an utterance: 15 for asr, 50 for
// transcribe), "second_pass" (the fwdflat pass: false for asr, true for
// transcribe), "context_weight", and, only when no model resolver is
// given, "hmm", "lm", "dict" paths.
//
// Only cmd/izwi (through Register) and tests import this package.
package pocketsphinx

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Name is the engine's registered name.
const Name = "pocketsphinx"

// Library names the native library this package links. The 5prealpha
// headers expose no version macro, so it is the Debian package version.
const Library = "pocketsphinx 5prealpha (Debian 0.8+5prealpha+1-15)"

// Register adds PocketSphinx to r for the asr role (the live endpointing
// profile) and the transcribe role (the file profile; its streams skip
// partial hypotheses, which files never show).
func Register(r *speech.Registry) {
	r.Recognizers.Register(Name, func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Recognizer, error) {
		return New(ctx, spec, deps)
	})
	r.Transcribers.Register(Name, func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.Transcriber, error) {
		rec, err := newRecognizer(ctx, spec, deps, false)
		if err != nil {
			return nil, err
		}
		return speech.StreamTranscriber(rec), nil
	})
}

// Recognizer is a loaded PocketSphinx model with a pool of decoders.
type Recognizer struct {
	cfg  config
	info speech.EngineInfo
	// lm is the language model every decoder reads (sharedlm.go), cut
	// the dictionary they load (cutdict.go); nil when not shared.
	lm  *sharedLM
	cut *dictCut
	// slots holds one token per decoder that may exist; a stream holds a
	// token while open, so NewStream waits (honouring ctx) at the bound.
	slots chan struct{}

	// pron spells words of prepared texts missing from the dictionary;
	// prepared caches what those texts became.
	pron     speech.Pronouncer
	prepared preparedCache
	dictOnce sync.Once
	dict     []byte
	dictErr  error

	// building counts decoders being built outside mu (take).
	building sync.WaitGroup

	mu     sync.Mutex
	idle   []*decoder // most recently returned last
	closed bool
	// pruning is set while a prune is scheduled (idleFree after a decoder
	// came back).
	pruning  *time.Timer
	idleFree time.Duration
}

// idleFree is how long a decoder may sit unused in the pool before it is
// freed: ~27 MiB each, built again in 0.15–0.25 s (BenchmarkModelLoad/shared)
// when a stream needs one. A live session takes its stream when it is
// created, before its audio (package recognize), so an idle server keeps
// no decoder at all (issue 14: idle memory).
const idleFree = 30 * time.Second

var _ speech.Recognizer = (*Recognizer)(nil)

// New loads the model and one decoder, so a bad model fails here rather
// than on the first stream. See newConfig for spec.Options.
func New(ctx context.Context, spec speech.Spec, deps speech.Deps) (*Recognizer, error) {
	return newRecognizer(ctx, spec, deps, true)
}

func newRecognizer(ctx context.Context, spec speech.Spec, deps speech.Deps, live bool) (*Recognizer, error) {
	cfg, err := newConfig(ctx, spec, deps, live)
	if err != nil {
		return nil, err
	}
	fixMmapThreshold()
	lm, err := acquireLM(cfg.lm, cfg.args())
	if err != nil {
		return nil, err
	}
	cut, err := lm.cut(cfg.dict)
	if err != nil {
		lm.release()
		return nil, err
	}
	d, err := newDecoder(cfg.args(), lm, cut)
	if err != nil {
		lm.release()
		return nil, err
	}
	r := &Recognizer{
		cfg:      cfg,
		lm:       lm,
		cut:      cut,
		idleFree: idleFree,
		pron:     deps.Pronouncer,
		slots:    make(chan struct{}, cfg.maxDecoders),
		idle:     []*decoder{d},
		info: speech.EngineInfo{
			Engine:  Name,
			Role:    "asr",
			Model:   cfg.model,
			Library: Library,
			Files:   cfg.files,
			// An acoustic model hears one language: the catalogue's, or
			// Debian's en-us when no model store resolved one.
			Languages: []string{cfg.language},
		},
	}
	// The decoder that proved the model serves the first stream, or is
	// freed with the others after idleFree. (Freeing it at once leaves
	// more behind: what loads next fills its holes in the C heap, and at
	// 35 s after ready the process held 81 MiB private instead of 53.)
	d.idleAt = time.Now()
	r.mu.Lock()
	r.schedulePrune()
	r.mu.Unlock()
	if deps.Logger != nil {
		deps.Logger.Info("pocketsphinx: model loaded", "model", cfg.model, "max_decoders", cfg.maxDecoders)
	}
	return r, nil
}

// SampleRate is the rate the decoder's front end expects (16 kHz default).
func (r *Recognizer) SampleRate() int { return r.cfg.sampleRate }

// Info describes the loaded engine.
func (r *Recognizer) Info() speech.EngineInfo { return r.info }

// NewStream takes a decoder from the pool (loading a new one if none is
// idle and the bound allows; waiting otherwise), makes opts.Hotwords
// recognisable on it and adapts it to opts.Context (prepared.go).
func (r *Recognizer) NewStream(ctx context.Context, opts speech.StreamOptions) (speech.Stream, error) {
	hws, err := parseHotwords(opts.Hotwords)
	if err != nil {
		return nil, err
	}
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("pocketsphinx: waiting for a free decoder: %w", ctx.Err())
	}
	// With prepared text, hotwords join it (their words in its model, new
	// ones in its dictionary): adding words to a decoder the way plain
	// hotwords are added does not mix with a prepared model (prepared.go).
	var key [32]byte
	if opts.Context != "" {
		key = preparedKey(opts.Context, hws)
	}
	d, err := r.take(key)
	if err != nil {
		<-r.slots
		return nil, err
	}
	var a *adaptation
	if opts.Context != "" {
		if a, err = r.adapt(d, key, opts.Context, hws); err != nil {
			r.give(d)
			return nil, err
		}
	}
	if err := r.adaptTo(d, key, a); err != nil {
		r.give(d)
		return nil, err
	}
	if opts.Context == "" {
		if err := applyHotwords(d, hws); err != nil {
			r.give(d)
			return nil, err
		}
	}
	if err := d.startStream(); err != nil {
		d.tainted = true
		r.give(d)
		return nil, err
	}
	return newStream(r, d), nil
}

// take returns an idle decoder, one already adapted to the prepared text
// with key if there is one, or loads a new one. The caller holds a slot.
func (r *Recognizer) take(key [32]byte) (*decoder, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("pocketsphinx: recognizer: %w", speech.ErrClosed)
	}
	if n := len(r.idle); n > 0 {
		i := n - 1
		for j, d := range r.idle {
			if d.prepared == key {
				i = j
			}
		}
		d := r.idle[i]
		r.idle = append(r.idle[:i], r.idle[i+1:]...)
		r.mu.Unlock()
		return d, nil
	}
	r.building.Add(1) // Close keeps the shared model until this is built
	r.mu.Unlock()
	defer r.building.Done()
	// Loading takes about a second; do it without the lock.
	return newDecoder(r.cfg.args(), r.lm, r.cut)
}

// give returns d to the pool (or frees it if it was changed or the
// recognizer is closed) and releases its slot.
func (r *Recognizer) give(d *decoder) {
	r.mu.Lock()
	drop := r.closed || d.tainted
	if !drop {
		d.idleAt = time.Now()
		r.idle = append(r.idle, d)
		r.schedulePrune()
	}
	r.mu.Unlock()
	if drop {
		d.free()
	}
	<-r.slots
}

// schedulePrune arms the prune timer if decoders are idle and none is
// armed. r.mu is held.
func (r *Recognizer) schedulePrune() {
	if r.pruning == nil && !r.closed && len(r.idle) > 0 {
		r.pruning = time.AfterFunc(r.idleFree, r.prune)
	}
}

// prune frees the decoders idle for idleFree or longer, oldest first;
// native frees run unlocked.
func (r *Recognizer) prune() {
	var stale []*decoder
	r.mu.Lock()
	r.pruning = nil
	for len(r.idle) > 0 && time.Since(r.idle[0].idleAt) >= r.idleFree {
		stale = append(stale, r.idle[0])
		r.idle = r.idle[1:]
	}
	r.schedulePrune()
	r.mu.Unlock()
	for _, d := range stale {
		d.free()
	}
}

// Close frees the idle decoders and, once decoders being built are
// done, its hold on the shared model. Streams still open free theirs on
// Close.
func (r *Recognizer) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	defer func() {
		r.building.Wait()
		r.lm.release() // decoders still open keep it until they are freed
	}()
	defer r.mu.Unlock()
	r.closed = true
	if r.pruning != nil {
		r.pruning.Stop()
		r.pruning = nil
	}
	for _, d := range r.idle {
		d.free()
	}
	r.idle = nil
	return nil
}

var _ speech.ContextReporter = (*Recognizer)(nil)

// ContextReport implements speech.ContextReporter for text (its exact
// bytes, with whatever hotwords), once a stream has been opened with it.
func (r *Recognizer) ContextReport(text string) (speech.ContextReport, bool) {
	a := r.prepared.byText(sha256.Sum256([]byte(text)))
	if a == nil {
		return speech.ContextReport{}, false
	}
	rep := a.report
	rep.Added = append([]string(nil), a.added...)
	return rep, true
}

var _ speech.ContextStatser = (*Recognizer)(nil)

// ContextStats implements speech.ContextStatser: the prepared texts whose
// adaptations r keeps.
func (r *Recognizer) ContextStats() []speech.ContextStats {
	return []speech.ContextStats{r.prepared.stats()}
}

// Streams reports the decoders in use and the pool's bound.
func (r *Recognizer) Streams() (inUse, capacity int) { return len(r.slots), cap(r.slots) }

var _ speech.StreamCounter = (*Recognizer)(nil)

// idleCount reports how many decoders sit in the pool (for tests).
func (r *Recognizer) idleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.idle)
}
