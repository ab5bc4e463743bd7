package converse

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/speech"
)

// frameDur is the length of one reply audio message.
const frameDur = 20 * time.Millisecond

// turn is one reply in progress, run by its own goroutine.
type turn struct {
	n      int
	cancel context.CancelFunc
	done   chan turnResult // buffered: the goroutine never waits on it
}

// turnResult is what a turn said, for the history.
type turnResult struct {
	user, text  string
	interrupted bool
}

// startTurn starts the reply to user. endOfSpeech is when the audio of the
// user's last word arrived; endpoint when the pipeline decided they had
// finished.
func (s *session) startTurn(ctx context.Context, user string, endOfSpeech, endpoint time.Time) {
	s.turns++
	tctx, cancel := context.WithCancel(ctx)
	t := &turn{n: s.turns, cancel: cancel, done: make(chan turnResult, 1)}
	s.cur = t
	msgs := s.messages(user)
	go func() {
		res := s.reply(tctx, t.n, msgs, endOfSpeech, endpoint)
		res.user = user
		t.done <- res
	}()
}

// reply streams the chat answer, speaking it sentence by sentence while it
// arrives (Respond), and reports the turn. Cancelled (barge-in), it stops
// at once and sends nothing more.
func (s *session) reply(ctx context.Context, n int, msgs []chat.Message, endOfSpeech, endpoint time.Time) turnResult {
	sp := &speaker{s: s, n: n}
	ans, err := Respond(ctx, Reply{Chat: s.opts.Chat, Who: s.who, Model: s.model, Messages: msgs,
		Synthesizer: s.opts.Synthesizer, Voice: s.cfg.Voice, Logger: s.log},
		func(d string) error { return s.send(ctx, Event{Type: evDelta, Turn: n, Text: d}) },
		func(samples []float32) error {
			sp.buf = append(sp.buf, samples...)
			return sp.frames(ctx, false)
		})
	if ctx.Err() == nil {
		_ = sp.frames(ctx, true)
	}
	usage, firstToken := ans.Usage, ans.FirstToken
	res := turnResult{text: ans.Text}
	if ctx.Err() != nil {
		res.interrupted = true
		return res
	}
	if err != nil {
		code, msg := apierr.CodeUpstreamError, "the chat upstream failed"
		var ae *apierr.Error
		if errors.As(err, &ae) {
			code, msg = ae.Code, ae.Message
		} else {
			s.log.Warn("converse: chat failed", "turn", n, "err", err)
		}
		_ = s.send(ctx, Event{Type: evError, Turn: n, Code: string(code), Message: msg})
	}
	if !sp.first.IsZero() {
		_ = s.send(ctx, Event{Type: evAudioDone, Turn: n})
	}
	_ = s.send(ctx, Event{Type: evDone, Turn: n, Text: res.text,
		Usage: &Usage{PromptTokens: usage.PromptTokens, CompletionTokens: usage.CompletionTokens, Estimated: usage.Estimated}})
	m := Metrics{AudioSeconds: float64(sp.samples) / float64(s.outRate)}
	if !sp.first.IsZero() {
		m.EndOfSpeechToFirstAudio = ms(sp.first.Sub(endOfSpeech))
		m.EndpointToFirstAudio = ms(sp.first.Sub(endpoint))
		s.h.metrics.observe(sp.first.Sub(endOfSpeech))
	}
	if !firstToken.IsZero() {
		m.ChatFirstToken = ms(firstToken.Sub(endpoint))
	}
	_ = s.send(ctx, Event{Type: evMetrics, Turn: n, Metrics: &m})
	s.log.Info("converse: turn", "turn", n, "end_of_speech_to_first_audio_ms", m.EndOfSpeechToFirstAudio,
		"chat_first_token_ms", m.ChatFirstToken, "prompt_tokens", usage.PromptTokens, "completion_tokens", usage.CompletionTokens,
		"audio_seconds", m.AudioSeconds)
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// speaker synthesizes a turn's sentences and sends the audio, paced.
type speaker struct {
	s       *session
	n       int
	first   time.Time // when the first audio was sent
	start   time.Time // the pacing clock's origin
	samples int64     // samples sent
	buf     []float32 // samples not yet a whole frame
}

// frames sends the whole frames buffered (and, at the end, the rest),
// no faster than Pace times real time plus Lead.
func (sp *speaker) frames(ctx context.Context, last bool) error {
	s := sp.s
	size := int(int64(s.outRate) * int64(frameDur) / int64(time.Second))
	for len(sp.buf) >= size || (last && len(sp.buf) > 0) {
		k := min(size, len(sp.buf))
		if err := sp.pace(ctx); err != nil {
			return err
		}
		if sp.first.IsZero() {
			if err := s.send(ctx, Event{Type: evAudioStart, Turn: sp.n, OutputSampleRate: s.outRate}); err != nil {
				return err
			}
			sp.first, sp.start = time.Now(), time.Now()
		}
		var err error
		if s.media != nil {
			err = s.media.WriteAudio(ctx, sp.buf[:k], s.outRate)
		} else {
			err = s.write(ctx, websocket.MessageBinary, pcm16(make([]byte, 0, 2*k), sp.buf[:k]))
		}
		if err != nil {
			return err
		}
		sp.samples += int64(k)
		sp.buf = sp.buf[k:]
	}
	return ctx.Err()
}

// pace waits until the next frame is due.
func (sp *speaker) pace(ctx context.Context) error {
	if sp.start.IsZero() {
		return ctx.Err()
	}
	sent := speech.SamplesToDuration(int(sp.samples), sp.s.outRate)
	due := sp.start.Add(time.Duration(float64(sent-sp.s.opts.Lead) / sp.s.opts.Pace))
	wait := time.Until(due)
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
