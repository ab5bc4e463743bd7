package recognize

import (
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// run is the goroutine: it drains the queue into the pipeline, gives the
// stream back after IdleRelease without audio, and on close recognises the
// last of the audio and closes the pipeline.
func (a *Async) run() {
	defer close(a.done)
	defer a.abort()
	var idle <-chan time.Time
	var timer *time.Timer
	if a.cfg.IdleRelease > 0 {
		timer = time.NewTimer(a.cfg.IdleRelease)
		defer timer.Stop()
		idle = timer.C
	}
	for {
		select {
		case <-a.wake:
		case <-idle:
			a.release()
			continue
		}
		items, closing := a.take()
		if len(items) > 0 && timer != nil {
			timer.Reset(a.cfg.IdleRelease)
		}
		a.apply(items)
		if closing {
			// Anything queued between take and now was refused by Write
			// (closing is set under the same lock), so rest holds the
			// last of the audio.
			rest, _ := a.take()
			a.apply(rest)
			if err := a.p.Close(a.runCtx); err != nil {
				a.fail("close", err)
			}
			a.held.Store(false)
			return
		}
	}
}

func (a *Async) apply(items []item) {
	for _, it := range items {
		if a.runCtx.Err() != nil { // Close gave up waiting: drop the rest
			if !it.finalize {
				a.consumed(len(it.samples))
				a.dropped.Add(int64(len(it.samples)))
			}
			continue
		}
		if it.finalize {
			if err := a.p.Finalize(a.runCtx); err != nil {
				a.fail("recognizer", err)
			}
			if it.then != nil {
				it.then()
			}
			continue
		}
		err := a.p.Write(a.runCtx, it.samples)
		a.held.Store(a.p.Held())
		if errors.Is(err, ErrBusy) {
			a.dropped.Add(int64(len(it.samples)))
		}
		if err != nil {
			a.fail("recognizer", err)
		}
		a.consumed(len(it.samples))
	}
}

// release gives the idle pipeline's stream back.
func (a *Async) release() {
	if !a.p.Held() {
		return
	}
	if err := a.p.Release(a.runCtx); err != nil {
		a.fail("release", err)
	}
	a.held.Store(false)
	a.cfg.Logger.Info("recognize: idle: recognizer stream released", "idle", a.cfg.IdleRelease.String())
}

func (a *Async) fail(what string, err error) {
	if !a.failed {
		a.failed = true
		a.cfg.Logger.Error("recognize: pipeline engine error", "stage", what, "err", err)
	}
}

func checkSamples(samples []float32) error {
	if err := speech.CheckSamples(samples); err != nil {
		return fmt.Errorf("recognize: %w", err)
	}
	return nil
}
