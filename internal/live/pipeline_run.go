package live

import (
	"context"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// runner is the pipeline's goroutine state: only run touches it.
type runner struct {
	p   *Pipeline
	ctx context.Context // bounds every recognizer call
	st  speech.Stream
	det speech.Detector

	pos      int64          // samples recognised so far
	speaking bool           // the VAD hears speech now
	partial  map[int]string // last partial text emitted per open segment
	words    bool           // words heard since the last utterance_end
	lastWord time.Duration  // stream time (offset excluded) of the last word's end
	failed   bool           // the engine failed once (logged once)

	// recent holds the latest audio for snippets; recent[0] is sample
	// recentAt of the pipeline's audio.
	recent   []float32
	recentAt int64
	spkOff   bool // the speaker tracker failed once: off for this pipeline
}

func (r *runner) run() {
	p := r.p
	defer close(p.done)
	defer func() {
		r.st.Close()
		if r.det != nil {
			r.det.Close()
		}
	}()
	for {
		<-p.wake
		items, closing := p.take()
		for _, it := range items {
			if it.finalize {
				r.flush()
				continue
			}
			r.accept(it.samples)
			p.consumed(len(it.samples))
		}
		if closing {
			// Anything queued between take and now was refused by
			// Write (closing is set under the same lock), so items
			// holds the last of the audio.
			if rest, _ := p.take(); len(rest) > 0 {
				for _, it := range rest {
					if !it.finalize {
						r.accept(it.samples)
						p.consumed(len(it.samples))
					}
				}
			}
			if r.det != nil {
				r.det.Flush()
			}
			r.flush()
			r.utteranceEnd()
			return
		}
	}
}

func (r *runner) now() time.Duration { return speech.SamplesToDuration(int(r.pos), r.p.rate) }

func (r *runner) send(e Event) {
	r.p.events.Add(1)
	r.p.emit(e)
}

func (r *runner) at(d time.Duration) float64 { return (r.p.cfg.Offset + d).Seconds() }

func (r *runner) accept(samples []float32) {
	start := r.now()
	ended := false // the VAD closed a speech segment in these samples
	if r.det != nil {
		segs, err := r.det.Accept(samples)
		if err != nil {
			r.fail("vad", err)
		}
		ended = len(segs) > 0
		if sp := r.det.Speaking(); sp != r.speaking {
			r.speaking = sp
			if sp {
				r.send(Event{Type: TypeSpeechStarted, At: r.at(start)})
			}
		}
	}
	if tr := r.p.cfg.Speakers; tr != nil && !r.spkOff {
		if err := tr.Accept(context.Background(), samples, r.speaking || r.det == nil); err != nil {
			r.spkOff = true
			r.p.log.Warn("speaker identification stopped for this stream", "err", err)
		}
	}
	if r.p.cfg.Snippet != nil {
		r.hold(samples)
	}
	res, err := r.st.Accept(r.ctx, samples)
	r.pos += int64(len(samples))
	if err != nil {
		r.fail("recognizer", err)
	}
	r.results(res)
	if ended && !r.speaking && len(r.partial) > 0 {
		// The VAD heard the speech end (after its own minimum silence):
		// finalize now rather than wait for the utterance-end gap.
		r.flush()
	}
	if r.words && !r.speaking && r.now()-r.lastWord >= r.p.cfg.UtteranceEndGap {
		if len(r.partial) > 0 {
			r.flush()
		}
		r.utteranceEnd()
	}
}

// flush ends the open segment now.
func (r *runner) flush() {
	res, err := r.st.Flush(r.ctx)
	if err != nil {
		r.fail("recognizer", err)
	}
	r.results(res)
	// A segment left open (the engine had no final for it) is closed
	// with an empty final so viewers drop its partial.
	for seg := range r.partial {
		r.send(Event{Type: TypeCaption, Segment: seg, Final: true, Start: r.at(r.now()), End: r.at(r.now())})
		delete(r.partial, seg)
	}
}

func (r *runner) utteranceEnd() {
	if r.words {
		r.words = false
		r.send(Event{Type: TypeUtteranceEnd, At: r.at(r.lastWord)})
	}
}

func (r *runner) results(res []speech.Result) {
	for _, x := range res {
		last, open := r.partial[x.Segment]
		if !x.Final && open && last == x.Text {
			continue // same partial again
		}
		if x.Final {
			delete(r.partial, x.Segment)
			if x.Text == "" && !open {
				continue // nothing said, nothing shown
			}
		} else {
			r.partial[x.Segment] = x.Text
		}
		if x.Text != "" {
			r.words = true
			end := x.End
			if n := len(x.Words); n > 0 {
				end = x.Words[n-1].End
			}
			r.lastWord = max(r.lastWord, end)
		}
		e := CaptionEvent(x, r.p.cfg.Offset)
		if tr := r.p.cfg.Speakers; tr != nil && !r.spkOff {
			l := tr.SpeakerAt(x.Start, max(x.End, x.Start+time.Millisecond))
			if l.Name == "" && !x.Final {
				l = tr.Current()
			}
			e.Speaker, e.SpeakerConfidence = l.Name, l.Confidence
		}
		if x.Final && x.Text != "" && r.p.cfg.Snippet != nil && x.Confidence < r.p.cfg.SnippetBelow {
			if s := r.cut(x.Start, x.End); len(s) > 0 {
				r.p.cfg.Snippet(e, s, r.p.rate)
			}
		}
		r.send(e)
	}
}

// hold appends samples to the recent audio, keeping about snippetHold.
func (r *runner) hold(samples []float32) {
	limit := int(int64(snippetHold) * int64(r.p.rate) / int64(time.Second))
	r.recent = append(r.recent, samples...)
	if len(r.recent) > 2*limit { // trim in batches: amortised O(1)
		drop := len(r.recent) - limit
		r.recentAt += int64(drop)
		r.recent = append(r.recent[:0], r.recent[drop:]...)
	}
}

// cut copies the held audio between stream times from and to.
func (r *runner) cut(from, to time.Duration) []float32 {
	at := func(d time.Duration) int {
		i := int(int64(d)*int64(r.p.rate)/int64(time.Second) - r.recentAt)
		return min(max(i, 0), len(r.recent))
	}
	a, b := at(from), at(to)
	if b <= a {
		return nil
	}
	return append([]float32(nil), r.recent[a:b]...)
}

func (r *runner) fail(what string, err error) {
	if !r.failed {
		r.failed = true
		r.p.log.Error("live: pipeline engine error", "stage", what, "err", err)
	}
}
