package realtime

import (
	"context"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/recognize"
)

// This file turns the pipeline's events and the client's commits into
// transcription items. Results arrive in the order the audio was written,
// and a commit's mark follows every result of the audio before it, so the
// oldest open item always owns the event at hand.

// front is the item the pipeline's next event belongs to.
func (s *session) front() *item {
	if len(s.items) == 0 {
		s.items = append(s.items, &item{id: newID("item_")})
	}
	return s.items[0]
}

// pipelineEvent handles one pipeline event or commit mark.
func (s *session) pipelineEvent(ctx context.Context, q queued) error {
	if q.mark != nil {
		return s.complete(ctx, q.mark)
	}
	e := q.ev
	switch e.Kind {
	case recognize.KindSpeechStarted:
		if !s.set.vad {
			return nil
		}
		s.cancelResponse() // barge-in: the user speaks over the answer
		it := s.front()
		return s.started(ctx, it, e.At)
	case recognize.KindResult:
		r := e.Result
		if !r.Final || r.Text == "" {
			return nil
		}
		it := s.front()
		if it.discard {
			return nil
		}
		if s.set.vad {
			s.cancelResponse() // words over the answer, even without a VAD
		}
		if s.set.vad {
			if err := s.started(ctx, it, r.Start); err != nil {
				return err
			}
		}
		delta := r.Text
		if len(it.text) > 0 {
			delta = " " + delta
		}
		if len(it.text) == 0 {
			it.start = r.Start
		}
		it.text = append(it.text, delta...)
		it.end = r.End
		zero := 0
		return s.send(ctx, serverEvent{Type: stTranscriptionDelta, ItemID: it.id, ContentIndex: &zero, Delta: delta})
	case recognize.KindUtteranceEnd:
		if !s.set.vad || len(s.items) == 0 {
			return nil
		}
		it := s.items[0]
		if it.committed || len(it.text) == 0 {
			return nil
		}
		end := ms(e.At)
		if err := s.send(ctx, serverEvent{Type: stSpeechStopped, ItemID: it.id, AudioEndMs: &end}); err != nil {
			return err
		}
		if err := s.committed(ctx, it); err != nil {
			return err
		}
		return s.complete(ctx, it)
	}
	return nil
}

// started sends speech_started for it once.
func (s *session) started(ctx context.Context, it *item, at time.Duration) error {
	if it.started {
		return nil
	}
	it.started = true
	start := ms(at)
	return s.send(ctx, serverEvent{Type: stSpeechStarted, ItemID: it.id, AudioStartMs: &start})
}

// committed sends input_audio_buffer.committed for it.
func (s *session) committed(ctx context.Context, it *item) error {
	it.committed = true
	s.buffered = 0
	var prev *string
	if s.prevItem != "" {
		p := s.prevItem
		prev = &p
	}
	s.prevItem = it.id
	return s.send(ctx, serverEvent{Type: stCommitted, ItemID: it.id, PreviousItemID: prev})
}

// complete sends the transcription of it (unless it was cleared) and
// drops it and every older item.
func (s *session) complete(ctx context.Context, it *item) error {
	for len(s.items) > 0 {
		head := s.items[0]
		s.items = s.items[1:]
		if head == it {
			break
		}
	}
	if it.discard {
		return nil
	}
	s.turns++
	text, zero := string(it.text), 0
	if err := s.send(ctx, serverEvent{Type: stTranscriptionComplete, ItemID: it.id, ContentIndex: &zero,
		Transcript: &text, Usage: &usage{Type: "duration", Seconds: max(it.end-it.start, 0).Seconds()}}); err != nil {
		return err
	}
	if !s.set.conversation || text == "" {
		return nil
	}
	s.remember("user", text)
	if s.set.vad && !s.set.noAutoReply {
		return s.startResponse(ctx, "")
	}
	return nil
}

// commit ends the open item at the audio appended so far: committed now,
// completed once the recognizer has finished that audio.
func (s *session) commit(ctx context.Context, e clientEvent) error {
	if s.buffered < minCommit || s.pl == nil {
		return s.sendErr(ctx, e.EventID, &wireError{code: apierr.CodeUnprocessable,
			message: "buffer too small: a commit needs at least 100ms of audio appended since the last one"})
	}
	it := s.openItem()
	if err := s.committed(ctx, it); err != nil {
		return err
	}
	return s.finalize(it)
}

// clear drops the audio appended since the last commit: its item is
// completed silently.
func (s *session) clear(ctx context.Context) error {
	s.buffered = 0
	if s.pl != nil {
		it := s.openItem()
		it.committed, it.discard = true, true
		if err := s.finalize(it); err != nil {
			return err
		}
	}
	return s.send(ctx, serverEvent{Type: stCleared})
}

// openItem is the newest item not yet committed (a new one if none).
func (s *session) openItem() *item {
	if n := len(s.items); n > 0 && !s.items[n-1].committed {
		return s.items[n-1]
	}
	it := &item{id: newID("item_")}
	s.items = append(s.items, it)
	return it
}

// finalize ends the recognizer's utterance and leaves its mark behind
// its last result.
func (s *session) finalize(it *item) error {
	if err := s.pl.FinalizeThen(func() { s.enqueue(queued{mark: it}) }); err != nil {
		return err
	}
	return nil
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
