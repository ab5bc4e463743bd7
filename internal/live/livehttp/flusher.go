package livehttp

// The flusher writes every caption WebSocket's waiting frames from a few
// goroutines shared by all viewers of the node, so a viewer costs no
// writer goroutine of its own (measured: docs/benchmarks.md, issue 14).

import (
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// Flusher defaults.
const (
	// flushWorkers write viewers' frames.
	flushWorkers = 16
	// fastWrite is how long a worker waits on one viewer's socket; a
	// viewer whose kernel buffer stays full longer gets a goroutine of its
	// own for the rest of its WriteTimeout, so a few stalled viewers never
	// hold up the rest.
	fastWrite = 50 * time.Millisecond
)

// Scheduling states of a viewer (guarded by flusher.mu).
const (
	schedIdle    = iota // nothing to write, or not yet told
	schedQueued         // in ready
	schedRunning        // a worker (or its own slow goroutine) writes it
	schedRerun          // running, and told again meanwhile
)

// flusher is the node's pool of viewer writers.
type flusher struct {
	mu    sync.Mutex
	cond  *sync.Cond
	ready []*wsViewer
	quit  bool
	wg    sync.WaitGroup
}

// flushWorker is one worker's reusable scratch.
type flushWorker struct {
	frames []live.Frame
	out    []byte
	ends   []frameEnd
}

func newFlusher(workers int) *flusher {
	f := &flusher{}
	f.cond = sync.NewCond(&f.mu)
	f.wg.Add(workers)
	for range workers {
		go f.work()
	}
	return f
}

// schedule asks for v's waiting frames to be written. It never blocks
// (the feed's lock may be held).
func (f *flusher) schedule(v *wsViewer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch s := &v.state; *s {
	case schedIdle:
		*s = schedQueued
		f.ready = append(f.ready, v)
		f.cond.Signal()
	case schedRunning:
		*s = schedRerun
	}
}

// done ends a run of v: again if it was told meanwhile.
func (f *flusher) done(v *wsViewer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := &v.state; *s == schedRerun {
		*s = schedQueued
		f.ready = append(f.ready, v)
		f.cond.Signal()
	} else {
		*s = schedIdle
	}
}

func (f *flusher) work() {
	defer f.wg.Done()
	w := &flushWorker{}
	for {
		f.mu.Lock()
		for len(f.ready) == 0 && !f.quit {
			f.cond.Wait()
		}
		if f.quit {
			f.mu.Unlock()
			return
		}
		v := f.ready[0]
		f.ready[0] = nil
		f.ready = f.ready[1:]
		v.state = schedRunning
		f.mu.Unlock()
		if v.flush(w) { // else it went on in a goroutine of its own, which calls done
			f.done(v)
		}
	}
}

// close stops the workers (after every viewer has ended).
func (f *flusher) close() {
	f.mu.Lock()
	f.quit = true
	f.cond.Broadcast()
	f.mu.Unlock()
	f.wg.Wait()
}
