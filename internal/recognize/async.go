package recognize

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// AsyncConfig adds the queue's settings to a pipeline's.
type AsyncConfig struct {
	Config
	// QueueAudio is how much audio may wait for the recognizer; beyond it
	// new audio is dropped and counted. Default 5 s.
	QueueAudio time.Duration
	// IdleRelease gives the recognizer stream back after this long without
	// audio, and takes one again on the next samples (0: never).
	IdleRelease time.Duration
}

// Stats are an Async pipeline's counters since it started.
type Stats struct {
	AudioIn      time.Duration // audio accepted by Write (dropped audio included)
	AudioDropped time.Duration // audio dropped: queue full, or no stream free after a release
	// Lag is how far recognition trails the audio written: audio queued
	// or inside the recognizer not yet processed.
	Lag    time.Duration
	Events uint64 // events emitted
	Held   bool   // a recognizer stream is held now
}

// Async carries one stream of audio through a Pipeline in its own
// goroutine. Write never blocks on recognition: the goroutine drains a
// bounded queue. emit is called from that goroutine, in order; it must not
// block (publish, copy, return).
type Async struct {
	p     *Pipeline
	cfg   AsyncConfig
	limit int // queued samples allowed

	mu      sync.Mutex
	queue   []item
	queued  int
	closing bool
	wake    chan struct{}
	done    chan struct{}

	// runCtx bounds the goroutine's engine calls; Close cancels it when
	// its own ctx ends before the drain does.
	runCtx  context.Context
	abort   context.CancelFunc
	stopCtx func() bool

	in, dropped, processed, events atomic.Int64
	held                           atomic.Bool
	failed                         bool // the engine failed once (logged once); goroutine only
}

type item struct {
	samples  []float32
	finalize bool
	then     func() // after a finalize: every event it caused was emitted
}

// NewAsync opens the pipeline (failing fast with ErrBusy when no stream is
// free) and starts its goroutine. When ctx ends the pipeline drains and
// closes as by Close.
func NewAsync(ctx context.Context, cfg AsyncConfig, emit func(Event)) (*Async, error) {
	if cfg.QueueAudio <= 0 {
		cfg.QueueAudio = 5 * time.Second
	}
	a := &Async{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
	count := func(e Event) {
		a.events.Add(1)
		emit(e)
	}
	if emit == nil {
		count = func(Event) { a.events.Add(1) }
	}
	p, err := New(ctx, cfg.Config, count)
	if err != nil {
		return nil, err
	}
	a.p, a.cfg.Config = p, p.cfg
	a.held.Store(true)
	a.limit = int(int64(cfg.QueueAudio) * int64(p.rate) / int64(time.Second))
	// The goroutine outlives ctx long enough to drain what is queued (the
	// last audio is recognised); Close bounds that with its own ctx.
	a.runCtx, a.abort = context.WithCancel(context.WithoutCancel(ctx))
	go a.run()
	a.stopCtx = context.AfterFunc(ctx, a.shut)
	return a, nil
}

// SampleRate is the rate Write expects.
func (a *Async) SampleRate() int { return a.p.rate }

// Write queues mono samples in [-1, 1] at SampleRate. When the queue holds
// QueueAudio already, the samples are dropped and counted; Write never
// waits for recognition.
func (a *Async) Write(samples []float32) error {
	if len(samples) == 0 {
		return nil
	}
	if err := checkSamples(samples); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return ErrClosed
	}
	a.in.Add(int64(len(samples)))
	if a.queued+len(samples) > a.limit {
		a.dropped.Add(int64(len(samples)))
		return nil
	}
	a.queue = append(a.queue, item{samples: append([]float32(nil), samples...)})
	a.queued += len(samples)
	a.signal()
	return nil
}

// Finalize ends the current utterance once the audio written before it is
// recognised: its final result follows.
func (a *Async) Finalize() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return ErrClosed
	}
	a.queue = append(a.queue, item{finalize: true})
	a.signal()
	return nil
}

// FinalizeThen is Finalize, then calls then from the pipeline's goroutine
// once every event of the utterance it ended has been emitted (a client
// that commits its audio buffer waits for exactly that). then must not
// block; it is not called if the pipeline is closed or abandoned first.
func (a *Async) FinalizeThen(then func()) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return ErrClosed
	}
	a.queue = append(a.queue, item{finalize: true, then: then})
	a.signal()
	return nil
}

// Close recognises what is queued, emits the last finals, stops the
// goroutine and closes the stream. When ctx ends first the engine's calls
// are cancelled (the rest of the queue is dropped) and Close returns once
// the goroutine has stopped, which the engine contract makes prompt.
func (a *Async) Close(ctx context.Context) error {
	a.shut()
	a.stopCtx()
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
	}
	a.abort()
	<-a.done
	return ctx.Err()
}

// Done is closed once the goroutine has finished.
func (a *Async) Done() <-chan struct{} { return a.done }

// Stats reports the pipeline's counters.
func (a *Async) Stats() Stats {
	in, dropped, done := a.in.Load(), a.dropped.Load(), a.processed.Load()
	return Stats{AudioIn: a.p.dur(in), AudioDropped: a.p.dur(dropped),
		Lag: a.p.dur(max(in-dropped-done, 0)), Events: uint64(a.events.Load()), Held: a.held.Load()}
}

func (a *Async) shut() {
	a.mu.Lock()
	a.closing = true
	a.signal()
	a.mu.Unlock()
}

// signal wakes the goroutine; a.mu is held.
func (a *Async) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// take returns the queued items, and whether the pipeline is closing.
func (a *Async) take() ([]item, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue
	a.queue = nil
	return q, a.closing
}

// consumed releases n samples of queue space once they are recognised.
func (a *Async) consumed(n int) {
	a.mu.Lock()
	a.queued -= n
	a.mu.Unlock()
	a.processed.Add(int64(n))
}
