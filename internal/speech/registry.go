package speech

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
)

// Spec picks an engine for one role and says how to load it. It is what the
// configuration file holds, e.g. `[asr] engine = "sherpa"
// model = "streaming-zipformer-en-20M-2023-02-17"`.
type Spec struct {
	// Engine is the registered engine name.
	Engine string `json:"engine" toml:"engine"`
	// Model names a catalogue model for engines that load model files
	// (sherpa). Engines with a built-in model use it to pick a variant
	// (flite voice, pocketsphinx language) or ignore it when empty.
	Model string `json:"model,omitempty" toml:"model"`
	// Threads caps the native threads one loaded model may use; 0 means 1.
	Threads int `json:"threads,omitempty" toml:"threads"`
	// Options holds engine-specific settings (documented by each engine).
	Options map[string]string `json:"options,omitempty" toml:"options"`
}

// ResolvedModel is an installed model whose every file has been checked
// against its pinned SHA-256. Engines that load model files take paths only
// from here, so nothing unverified reaches a native runtime.
type ResolvedModel struct {
	Name   string
	Family string
	Dir    string
	// Files maps a role the engine understands ("encoder", "decoder",
	// "joiner", "tokens", "model", "voices", …) to a verified file.
	Files map[string]ModelFile
	// Meta holds validated, declarative settings from the catalogue
	// (e.g. "model_type": "zipformer2"). Never code.
	Meta map[string]string
}

// File returns the verified path for role, or "" if the model has none.
func (m ResolvedModel) File(role string) string {
	return m.Files[role].Path
}

// ModelResolver finds and verifies installed models by catalogue name.
type ModelResolver interface {
	Resolve(ctx context.Context, name string) (ResolvedModel, error)
}

// Deps are what a factory may use while loading.
type Deps struct {
	Models ModelResolver
	Logger *slog.Logger
	// Pronouncer spells words missing from an engine's dictionary (prepared
	// text); nil leaves them out.
	Pronouncer Pronouncer
}

// Factory loads an engine instance for one role.
type Factory[T any] func(ctx context.Context, spec Spec, deps Deps) (T, error)

// Kind is the set of factories registered for one role.
type Kind[T any] struct {
	role      string
	factories map[string]Factory[T]
}

// Register adds a factory under name; registering a name twice panics,
// since that is a programming error in the composition root.
func (k *Kind[T]) Register(name string, f Factory[T]) {
	if k.factories == nil {
		k.factories = make(map[string]Factory[T])
	}
	if _, dup := k.factories[name]; dup {
		panic(fmt.Sprintf("speech: %s engine %q registered twice", k.role, name))
	}
	k.factories[name] = f
}

// New loads the engine spec names.
func (k *Kind[T]) New(ctx context.Context, spec Spec, deps Deps) (T, error) {
	f, ok := k.factories[spec.Engine]
	if !ok {
		var zero T
		return zero, fmt.Errorf("%w: no %s engine %q (have %v)", ErrUnknownEngine, k.role, spec.Engine, k.Names())
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return f(ctx, spec, deps)
}

// Names lists the registered engine names, sorted.
func (k *Kind[T]) Names() []string {
	names := make([]string, 0, len(k.factories))
	for n := range k.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Registry holds the engines compiled into this binary, one Kind per role.
// The zero value is ready to use; cmd/izwi builds one and asks each engine
// package to register itself.
type Registry struct {
	Recognizers  Kind[Recognizer]
	Transcribers Kind[Transcriber]
	VADs         Kind[VAD]
	Embedders    Kind[Embedder]
	Synthesizers Kind[Synthesizer]
}

// NewRegistry returns an empty registry with role names set for errors.
func NewRegistry() *Registry {
	return &Registry{
		Recognizers:  Kind[Recognizer]{role: "asr"},
		Transcribers: Kind[Transcriber]{role: "transcribe"},
		VADs:         Kind[VAD]{role: "vad"},
		Embedders:    Kind[Embedder]{role: "speaker"},
		Synthesizers: Kind[Synthesizer]{role: "tts"},
	}
}

// Roles lists, for each role, the engines registered for it.
func (r *Registry) Roles() map[string][]string {
	return map[string][]string{
		"asr":        r.Recognizers.Names(),
		"transcribe": r.Transcribers.Names(),
		"vad":        r.VADs.Names(),
		"speaker":    r.Embedders.Names(),
		"tts":        r.Synthesizers.Names(),
	}
}
