// Package engines owns the loaded speech engines of a running Izwi: it loads
// every configured role through a speech.Registry and a speech.ModelResolver,
// records a role that fails (missing or corrupt model) with its error
// instead of stopping the process, unless the role is required, and reports
// a per-role snapshot for /readyz. Only the composition root builds a Set.
package engines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
)

// State is a role's load state.
type State string

// The states a role can be in.
const (
	Ready  State = "ready"
	Failed State = "error"
	Off    State = "off"
)

// Status describes one role for /readyz, `izwi version` and logs.
type Status struct {
	Role     string `json:"role"`
	Engine   string `json:"engine"`
	Model    string `json:"model,omitempty"`
	Required bool   `json:"required"`
	State    State  `json:"state"`
	// Error says why a role is not ready; empty when ready or off.
	Error string `json:"error,omitempty"`
	// Info is the loaded engine's description (files with SHA-256); nil
	// unless ready.
	Info *speech.EngineInfo `json:"info,omitempty"`
	// Serving is, for a chain, how many streams each engine serves now.
	Serving map[string]int `json:"serving,omitempty"`
	// Prepared sums up the prepared-text adaptations the role's engines
	// keep (counts and sizes, never words).
	Prepared []speech.ContextStats `json:"prepared,omitempty"`
}

// Set is the engines loaded for one process. Fields are nil for roles that
// are off or failed. A Set is not modified after Load, so it is safe to read
// from any goroutine; Close releases everything once.
type Set struct {
	Recognizer  speech.Recognizer
	Transcriber speech.Transcriber
	Synthesizer speech.Synthesizer
	VAD         speech.VAD
	Embedder    speech.Embedder

	status  []Status
	counted []counted // engines whose streams /metrics reports
}

// ErrRequired wraps the failure of a role marked required.
var ErrRequired = errors.New("engines: required role failed to load")

// Load loads roles in order. A failing optional role is logged and recorded;
// a failing required role closes what was loaded and returns an error
// wrapping ErrRequired and the engine's error (so errors.Is(err,
// speech.ErrModel) tells a model problem apart).
func Load(ctx context.Context, reg *speech.Registry, deps speech.Deps, roles []config.NamedRole) (*Set, error) {
	return LoadChained(ctx, reg, deps, nil, roles)
}

// LoadChained is Load where asr and transcribe roles may name a chain of
// engines, which ch joins (nil: a chain fails to load).
func LoadChained(ctx context.Context, reg *speech.Registry, deps speech.Deps, ch Chainer, roles []config.NamedRole) (*Set, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{}
	for _, r := range roles {
		st := Status{Role: r.Name, Engine: r.Engine, Model: r.Model, Required: r.Required}
		if r.Off() || r.Engine == "" {
			st.State, st.Engine = Off, config.Off
			s.status = append(s.status, st)
			continue
		}
		info, err := s.load(ctx, reg, deps, ch, r)
		if err != nil {
			st.State, st.Error = Failed, err.Error()
			s.status = append(s.status, st)
			if r.Required {
				_ = s.Close()
				return nil, fmt.Errorf("%w: %s (%s): %w", ErrRequired, r.Name, r.Engine, err)
			}
			log.Warn("engine role not loaded; continuing without it",
				"role", r.Name, "engine", r.Engine, "model", r.Model, "err", err)
			continue
		}
		st.State, st.Info = Ready, &info
		s.status = append(s.status, st)
		log.Info("engine role loaded", "role", r.Name, "engine", r.Engine, "model", info.Model, "library", info.Library)
	}
	return s, nil
}

// load builds one role. A panic in an engine constructor is turned into an
// error for that role: one bad engine must not take the server down.
func (s *Set) load(ctx context.Context, reg *speech.Registry, deps speech.Deps, ch Chainer, r config.NamedRole) (info speech.EngineInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("engines: %s engine %q panicked while loading: %v", r.Name, r.Engine, p)
		}
	}()
	switch r.Name {
	case "asr":
		join := func(l []Link[speech.Recognizer]) (speech.Recognizer, error) {
			if ch == nil {
				return nil, errNoChainer
			}
			v, err := ch.Recognizers(l)
			if err == nil {
				s.count(r.Name, l)
			}
			return v, err
		}
		v, err := loadChain(ctx, r, func(ctx context.Context, sp speech.Spec) (speech.Recognizer, error) {
			return reg.Recognizers.New(ctx, sp, deps)
		}, join)
		if err != nil {
			return info, err
		}
		if s.Recognizer = v; len(s.counted) == 0 {
			s.count(r.Name, []Link[speech.Recognizer]{{Name: r.Engine, Engine: v}})
		}
		return v.Info(), nil
	case "transcribe":
		join := func(l []Link[speech.Transcriber]) (speech.Transcriber, error) {
			if ch == nil {
				return nil, errNoChainer
			}
			return ch.Transcribers(l)
		}
		v, err := loadChain(ctx, r, func(ctx context.Context, sp speech.Spec) (speech.Transcriber, error) {
			return reg.Transcribers.New(ctx, sp, deps)
		}, join)
		if err != nil {
			return info, err
		}
		s.Transcriber = v
		return v.Info(), nil
	case "tts":
		v, err := reg.Synthesizers.New(ctx, r.Spec, deps)
		if err != nil {
			return info, err
		}
		s.Synthesizer = v
		return v.Info(), nil
	case "vad":
		v, err := reg.VADs.New(ctx, r.Spec, deps)
		if err != nil {
			return info, err
		}
		s.VAD = v
		return v.Info(), nil
	case "speaker":
		v, err := reg.Embedders.New(ctx, r.Spec, deps)
		if err != nil {
			return info, err
		}
		s.Embedder = v
		return v.Info(), nil
	}
	return info, fmt.Errorf("engines: unknown role %q", r.Name)
}

// Status returns a copy of every role's state, in load order, with what
// each chain serves now.
func (s *Set) Status() []Status {
	out := make([]Status, len(s.status))
	copy(out, s.status)
	for i := range out {
		var v any
		switch out[i].Role {
		case "asr":
			v = s.Recognizer
		case "transcribe":
			v = s.Transcriber
		}
		if sv, ok := v.(Server); ok {
			out[i].Serving = sv.Serving()
		}
		if cs, ok := v.(speech.ContextStatser); ok {
			out[i].Prepared = cs.ContextStats()
		}
	}
	return out
}

// Ready reports whether every required role is ready.
func (s *Set) Ready() bool {
	for _, st := range s.status {
		if st.Required && st.State != Ready {
			return false
		}
	}
	return true
}

// Close releases every loaded engine and reports all failures.
func (s *Set) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{s.Recognizer, s.Transcriber, s.Synthesizer, s.VAD, s.Embedder} {
		if c == nil {
			continue
		}
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.Recognizer, s.Transcriber, s.Synthesizer, s.VAD, s.Embedder = nil, nil, nil, nil, nil
	return errors.Join(errs...)
}
