package live

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/speech"
)

// maxSource bounds the source description shown in Info.
const maxSource = 200

// Attach implements Sessions.
func (m *Manager) Attach(ctx context.Context, owner, id, source string) (Ingest, error) {
	if len(source) > maxSource || source == "" {
		return nil, fmt.Errorf("%w: source must be 1 to %d bytes", ErrBadConfig, maxSource)
	}
	if m.clustered() {
		return m.attachBus(ctx, owner, id)
	}
	s, err := m.lookup(owner, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.deleted:
		return nil, ErrNotFound
	case s.rec.State == Stopped:
		return nil, fmt.Errorf("%w: session is stopped", ErrTransition)
	case s.ingest != nil:
		return nil, ErrBusy
	}
	in := &ingest{tr: localAudio{m: m, s: s}, log: m.log, s: s, id: id, rate: m.rate()}
	s.ingest, s.source = in, source
	in.mu.Lock()
	in.stop = context.AfterFunc(ctx, func() { in.Close() })
	in.mu.Unlock()
	return in, nil
}

// attachBus is Attach in a cluster: the audio goes to the session's audio
// subject (kept by the bus's stream), wherever its owner is, so a worker
// taking the session over finds it there.
func (m *Manager) attachBus(ctx context.Context, owner, id string) (Ingest, error) {
	rep, done, err := m.forward(ctx, id, ctlRequest{Op: "attach", Owner: owner})
	rate := rep.Rate
	if err != nil {
		return nil, err
	}
	if !done {
		if err := m.canAttach(owner, id); err != nil {
			return nil, err
		}
		rate = m.rate()
	}
	in := &ingest{tr: newBusAudio(m.nc, m.bus.js, id), log: m.log, id: id, rate: rate}
	in.mu.Lock()
	in.stop = context.AfterFunc(ctx, func() { in.Close() })
	in.mu.Unlock()
	return in, nil
}

// canAttach checks that a source may be attached to session id here.
func (m *Manager) canAttach(owner, id string) error {
	s, err := m.lookup(owner, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.deleted:
		return ErrNotFound
	case s.rec.State == Stopped:
		return fmt.Errorf("%w: session is stopped", ErrTransition)
	}
	return nil
}

// NewBusIngest returns an Ingest that publishes audio for session id on
// nc without holding the session: for an ingest node of a split
// deployment whose session manager (the owner) runs in another process.
// It cannot see the session's state, so writes never fail for it: the
// owner keeps the audio as pre-roll, recognises it, or ignores it.
// rate must be the owner's recognizer rate.
func NewBusIngest(nc *nats.Conn, id string, rate int) (Ingest, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	if nc == nil || rate <= 0 {
		return nil, fmt.Errorf("%w: bus ingest needs a connection and a rate", ErrBadConfig)
	}
	return &ingest{tr: newBusAudio(nc, nil, id), log: slog.New(slog.DiscardHandler), id: id, rate: rate}, nil
}

// ingest carries a source's audio to its session over an audioTransport:
// in process when the session is this manager's (Attach), on the bus when
// its owner is another process (NewBusIngest).
type ingest struct {
	tr   audioTransport
	log  *slog.Logger
	s    *session // nil for a bus ingest: the owner is elsewhere
	id   string
	rate int
	stop func() bool

	mu     sync.Mutex
	closed bool
}

var _ Ingest = (*ingest)(nil)

// maxChunk is the most samples one bus message carries (1 s at 16 kHz),
// far below the bus's maximum payload.
const maxChunk = 16000

func (in *ingest) SampleRate() int { return in.rate }

// Write publishes samples; it fails once the session is stopped.
func (in *ingest) Write(samples []float32) error {
	if err := in.usable(); err != nil {
		return err
	}
	if err := speech.CheckSamples(samples); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	return in.tr.send(samples)
}

// Finalize asks the pipeline to end the current utterance after the audio
// already written (it travels the same way, so it stays in order).
func (in *ingest) Finalize() error {
	if err := in.usable(); err != nil {
		return err
	}
	return in.tr.finalize()
}

// Reconnected tells the session its source came back after a failure
// (sources such as ALSA capture restart): EvReconnect, which changes no
// state; it is logged, with the session id only.
func (in *ingest) Reconnected() error {
	if err := in.usable(); err != nil {
		return err
	}
	in.log.Info("live: source reconnected", "session", in.id)
	return in.tr.reconnected()
}

func (in *ingest) usable() error {
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return fmt.Errorf("live: source detached: %w", speech.ErrClosed)
	}
	if in.s == nil {
		return nil
	}
	in.s.mu.Lock()
	defer in.s.mu.Unlock()
	if in.s.deleted {
		return ErrNotFound
	}
	if in.s.rec.State == Stopped {
		return fmt.Errorf("%w: session is stopped", ErrTransition)
	}
	return nil
}

// Close detaches the source; the session keeps its state.
func (in *ingest) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	stop := in.stop
	in.mu.Unlock()
	if stop != nil {
		stop()
	}
	if in.s == nil {
		return nil
	}
	in.s.mu.Lock()
	if in.s.ingest == in {
		in.s.ingest, in.s.source = nil, ""
	}
	in.s.mu.Unlock()
	return nil
}

// detached marks in closed; s.mu is held by the caller.
func (in *ingest) detached() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
}
