package livetranslate

import (
	"context"
	"sync"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/translate"
)

// feed is a translated view of a source feed. Its one goroutine reads the
// source in order, translates captions and sends them on out, which it
// alone closes; Close ends it and the source.
type feed struct {
	src    live.Feed
	out    chan live.Event
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

var _ live.Feed = (*feed)(nil)

func newFeed(ctx context.Context, s *Service, src live.Feed, p translate.Pair) *feed {
	ctx, cancel := context.WithCancel(ctx)
	f := &feed{src: src, out: make(chan live.Event), cancel: cancel, done: make(chan struct{})}
	go f.run(ctx, s, p)
	return f
}

func (f *feed) Events() <-chan live.Event { return f.out }

// Err is the source feed's: why it ended.
func (f *feed) Err() error { return f.src.Err() }

// Close ends the feed and its source, and waits for the goroutine.
func (f *feed) Close() {
	f.once.Do(func() {
		f.cancel()
		f.src.Close()
	})
	<-f.done
}

func (f *feed) run(ctx context.Context, s *Service, p translate.Pair) {
	defer close(f.done)
	defer close(f.out)
	for ev := range f.src.Events() {
		if ev.Type == live.TypeCaption {
			if !ev.Final && !s.partials {
				continue
			}
			ev = Translated(ctx, s.tr, p, ev)
		}
		select {
		case f.out <- ev:
		case <-ctx.Done():
			// Drain the source until it closes (Close ended it).
			for range f.src.Events() {
			}
			return
		}
	}
}

// Translated is caption ev in p.To: its text translated (or the source
// text, in p.From, when no engine answered), everything else as it was.
func Translated(ctx context.Context, tr Translator, p translate.Pair, ev live.Event) live.Event {
	if ev.Text == "" {
		ev.Lang = p.To
		return ev
	}
	r := tr.Translate(ctx, p, ev.Text)
	ev.Text, ev.Lang = r.Text, r.Lang
	return ev
}
