package recognize

import (
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// PartialRefresh is how far an engine's unchanged partial must have moved
// on (its End) to be emitted again: viewers then see a caption is alive
// while a long word is spoken, at least every 200 ms (issue 14) when
// audio comes in pushes of up to 100 ms; more often is noise. It matches
// the PocketSphinx stream's own refresh (90 ms of audio).
const PartialRefresh = 90 * time.Millisecond

// results emits the engine's results on the pipeline's clock: repeated
// partials are dropped (unless PartialRefresh has passed), and so is an
// empty final for a segment nobody saw.
func (p *Pipeline) results(rs []speech.Result) {
	for _, x := range rs {
		x = p.shift(x)
		last, open := p.partial[x.Segment]
		if !x.Final && open && last.Text == x.Text && x.End-last.End < PartialRefresh {
			continue // same partial again
		}
		if x.Final {
			delete(p.partial, x.Segment)
			if x.Text == "" && !open {
				continue // nothing said, nothing shown
			}
		} else {
			p.partial[x.Segment] = x
		}
		if x.Text != "" {
			p.words = true
			end := x.End
			if n := len(x.Words); n > 0 {
				end = x.Words[n-1].End
			}
			p.lastWord = max(p.lastWord, end)
		}
		e := Event{Kind: KindResult, Result: x}
		if tr := p.cfg.Speakers; tr != nil && !p.spkOff {
			l := tr.SpeakerAt(x.Start, max(x.End, x.Start+time.Millisecond))
			if l.Name == "" && !x.Final {
				l = tr.Current()
			}
			e.Result.Speaker, e.SpeakerConfidence = l.Name, l.Confidence
		}
		if x.Final && x.Text != "" && p.cfg.Snippet != nil && x.Confidence < p.cfg.SnippetBelow {
			if s := p.cut(x.Start, x.End); len(s) > 0 {
				p.cfg.Snippet(e, s)
			}
		}
		p.emit(e)
	}
}

// shift moves a result of the current stream onto the pipeline's clock and
// segment numbers (a stream taken back after a release starts at zero).
func (p *Pipeline) shift(x speech.Result) speech.Result {
	x.Segment += p.segBase
	p.segNext = max(p.segNext, x.Segment+1)
	if p.base == 0 {
		return x
	}
	off := p.dur(p.base)
	x.Start += off
	x.End += off
	if len(x.Words) > 0 {
		w := make([]speech.Word, len(x.Words))
		for i, v := range x.Words {
			v.Start += off
			v.End += off
			w[i] = v
		}
		x.Words = w
	}
	return x
}

// streamEvent is the stream's Events callback: engine switches and
// catch-up results, shifted onto the pipeline's clock. Chains call it from
// the goroutine inside Accept or Flush, so it may emit directly.
func (p *Pipeline) streamEvent(ev speech.StreamEvent) {
	off := p.dur(p.base)
	ev.At += off
	ev.Span[0] += off
	ev.Span[1] += off
	switch ev.Kind {
	case speech.EventSwitch:
		p.emit(Event{Kind: KindSwitch, At: ev.At, Stream: ev})
	case speech.EventCatchUp:
		rs := make([]speech.Result, len(ev.Results))
		for i, r := range ev.Results {
			rs[i] = p.shift(r)
		}
		ev.Results = rs
		p.emit(Event{Kind: KindCatchUp, At: ev.At, Stream: ev})
	}
}

// hold appends samples to the recent audio, keeping about snippetHold.
func (p *Pipeline) hold(samples []float32) {
	limit := int(int64(snippetHold) * int64(p.rate) / int64(time.Second))
	p.recent = append(p.recent, samples...)
	if len(p.recent) > 2*limit { // trim in batches: amortised O(1)
		drop := len(p.recent) - limit
		p.recentAt += int64(drop)
		p.recent = append(p.recent[:0], p.recent[drop:]...)
	}
}

// cut copies the held audio between pipeline times from and to.
func (p *Pipeline) cut(from, to time.Duration) []float32 {
	at := func(d time.Duration) int {
		i := int(int64(d)*int64(p.rate)/int64(time.Second) - p.recentAt)
		return min(max(i, 0), len(p.recent))
	}
	a, b := at(from), at(to)
	if b <= a {
		return nil
	}
	return append([]float32(nil), p.recent[a:b]...)
}
