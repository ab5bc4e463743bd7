package identify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Config bounds what an identifier accepts. Zero fields take the defaults
// in brackets.
type Config struct {
	// Model is the speaker model's catalogue name (engines.speaker.model),
	// advertised so workers compare voiceprints of the same model only.
	Model string
	// MaxAudio bounds one request's audio [10 s], and never more than the
	// bus's largest message holds.
	MaxAudio time.Duration
	// Workers embed at once [number of CPUs]; Queue more may wait [16];
	// beyond that a request is refused as busy at once.
	Workers, Queue int
	// Timeout bounds one embedding [10 s].
	Timeout time.Duration
}

// Server answers embedding requests with one speaker engine.
type Server struct {
	emb   speech.Embedder
	info  Info
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // admitted requests (running + queued)
	run   chan struct{} // running requests
	subs  []*nats.Subscription
	ctx   context.Context

	mu     sync.Mutex // guards closed against wg.Add after Close began waiting
	closed bool
	wg     sync.WaitGroup
}

// Serve subscribes to the identifier subjects until ctx ends or Close.
func Serve(ctx context.Context, nc *nats.Conn, emb speech.Embedder, cfg Config, log *slog.Logger) (*Server, error) {
	if emb == nil || cfg.Model == "" {
		return nil, errors.New("identify: serve needs a speaker engine and its model name")
	}
	if cfg.MaxAudio <= 0 {
		cfg.MaxAudio = 10 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	maxSamples := int(cfg.MaxAudio.Seconds() * float64(emb.SampleRate()))
	if lim := int(nc.MaxPayload()/4) - 1024; maxSamples > lim {
		maxSamples = lim
	}
	s := &Server{emb: emb, cfg: cfg, log: log, ctx: ctx,
		info: Info{Engine: emb.Info().Engine, Model: cfg.Model, SampleRate: emb.SampleRate(), Dim: emb.Dim(),
			MaxSamples: maxSamples},
		slots: make(chan struct{}, cfg.Workers+cfg.Queue), run: make(chan struct{}, cfg.Workers)}
	info, err := json.Marshal(s.info)
	if err != nil {
		return nil, fmt.Errorf("identify: %w", err)
	}
	sub, err := nc.QueueSubscribe(SubjectInfo, queueGroup, func(m *nats.Msg) { _ = m.Respond(info) })
	if err != nil {
		return nil, fmt.Errorf("identify: subscribe: %w", err)
	}
	s.subs = append(s.subs, sub)
	sub, err = nc.QueueSubscribe(SubjectEmbed, queueGroup, s.admit)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("identify: subscribe: %w", err)
	}
	s.subs = append(s.subs, sub)
	if err := nc.Flush(); err != nil {
		s.Close()
		return nil, fmt.Errorf("identify: subscribe: %w", err)
	}
	log.Info("identifier ready", "model", cfg.Model, "sample_rate", s.info.SampleRate, "dim", s.info.Dim,
		"max_samples", maxSamples, "workers", cfg.Workers, "queue", cfg.Queue)
	return s, nil
}

// Info is what the server advertises.
func (s *Server) Info() Info { return s.info }

// Close unsubscribes and waits for requests in flight.
func (s *Server) Close() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// admit runs on the subscription's goroutine: it checks the request and
// hands it to a goroutine of its own, or refuses it at once when the queue
// is full.
func (s *Server) admit(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if model := m.Header.Get(hdrModel); model != "" && model != s.info.Model {
		s.refuse(m, "model", "identifier runs "+s.info.Model)
		return
	}
	if len(m.Data)/4 > s.info.MaxSamples {
		s.refuse(m, "too_long", fmt.Sprintf("at most %d samples", s.info.MaxSamples))
		return
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.wg.Done()
		s.refuse(m, "busy", "queue full")
		return
	}
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		s.embed(m)
	}()
}

func (s *Server) embed(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case s.run <- struct{}{}:
		defer func() { <-s.run }()
	case <-ctx.Done():
		s.refuse(m, "timeout", "waited too long in the queue")
		return
	}
	samples, err := decode(m.Data, s.info.MaxSamples)
	if err != nil || len(samples) == 0 {
		s.refuse(m, "bad_request", "want mono float32 little-endian samples")
		return
	}
	v, err := s.emb.Embed(ctx, samples)
	if err != nil || len(v) != s.info.Dim {
		s.log.Warn("embedding failed", "err", err, "samples", len(samples))
		s.refuse(m, "failed", "embedding failed")
		return
	}
	if err := m.Respond(encode(v)); err != nil {
		s.log.Warn("cannot reply", "err", err)
	}
}

func (s *Server) refuse(m *nats.Msg, code, msg string) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(hdrError, code)
	r.Data = []byte(msg)
	if err := m.RespondMsg(r); err != nil {
		s.log.Warn("cannot reply", "err", err)
	}
}
