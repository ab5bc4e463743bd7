package livehttp

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/izwi-speech/izwi/internal/live"
)

// adapterQueue is how many encoded events a feed without frames (a
// translated one) holds for its socket before it stops taking more: the
// feed's own bound decides who falls behind, as when its channel was read
// directly.
const adapterQueue = 2

// frameAdapter gives a Feed without frames (a translated feed) the
// FrameFeed methods: a goroutine encodes its events.
type frameAdapter struct {
	src  live.Feed
	ch   chan live.Frame
	stop chan struct{}
	once sync.Once
	done atomic.Bool
	err  atomic.Pointer[error]
}

var _ live.FrameFeed = (*frameAdapter)(nil)

func newFrameAdapter(src live.Feed) *frameAdapter {
	return &frameAdapter{src: src, ch: make(chan live.Frame, adapterQueue), stop: make(chan struct{})}
}

func (a *frameAdapter) Events() <-chan live.Event { return a.src.Events() }

// Err is the source's, once every frame was taken.
func (a *frameAdapter) Err() error {
	if !a.done.Load() || len(a.ch) > 0 {
		return nil
	}
	if p := a.err.Load(); p != nil {
		return *p
	}
	return a.src.Err()
}

func (a *frameAdapter) Close() {
	a.once.Do(func() { close(a.stop) })
	a.src.Close()
}

func (a *frameAdapter) Frames(_ context.Context, notify func()) {
	go func() {
		defer func() { a.done.Store(true); notify() }()
		for ev := range a.src.Events() {
			b, err := json.Marshal(ev)
			if err != nil {
				err = errors.New("livehttp: encoding an event failed")
				a.err.Store(&err)
				a.src.Close()
				return
			}
			select {
			case a.ch <- live.Frame{Seq: ev.Seq, JSON: b}:
				notify()
			case <-a.stop:
				return
			}
		}
	}()
}

func (a *frameAdapter) Take(buf []live.Frame) []live.Frame {
	for {
		select {
		case fr := <-a.ch:
			buf = append(buf, fr)
		default:
			return buf
		}
	}
}
