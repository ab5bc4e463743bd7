package converse

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Reply is one spoken answer to produce: a chat turn and the voice to
// speak it in. /v1/converse and the Realtime API's conversation sessions
// (package realtime) both answer through Respond.
type Reply struct {
	Chat        Chat
	Who         *auth.Principal
	Model       string
	Messages    []chat.Message
	Synthesizer speech.Synthesizer
	Voice       string
	Logger      *slog.Logger
}

// Answer is what Respond produced.
type Answer struct {
	Text       string
	Usage      chat.Usage
	FirstToken time.Time // when the first text arrived; zero if none did
}

// Respond streams the chat answer, calling text with each delta as it
// arrives, and (with a Synthesizer) synthesizes it sentence by sentence while it arrives,
// calling audio with the samples (at the Synthesizer's rate) from one
// goroutine, in order, so the first audio does not wait for the whole
// answer. A callback's error or ctx ending stops both at once; Respond
// returns once both have stopped. The error is the chat's (an
// *apierr.Error when the upstream or a quota refused).
func Respond(ctx context.Context, r Reply, text func(string) error, audio func([]float32) error) (Answer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sentences := make(chan string, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for sentence := range sentences {
			if ctx.Err() != nil || r.Synthesizer == nil {
				continue // drain so the producer never blocks
			}
			err := r.Synthesizer.Synthesize(ctx, speech.SynthesisRequest{Text: sentence, Voice: r.Voice}, audio)
			if err != nil && ctx.Err() == nil && !errors.Is(err, speech.ErrBadInput) {
				log.Warn("converse: synthesis failed", "err", err)
			}
		}
	})
	var ans Answer
	var b strings.Builder
	var split splitter
	usage, err := r.Chat.Stream(ctx, r.Who, r.Model, r.Messages, func(d string) error {
		if ans.FirstToken.IsZero() {
			ans.FirstToken = time.Now()
		}
		b.WriteString(d)
		if err := text(d); err != nil {
			return err
		}
		for _, sentence := range split.push(d) {
			select {
			case sentences <- sentence:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if rest := split.flush(); rest != "" && err == nil {
		select {
		case sentences <- rest:
		case <-ctx.Done():
		}
	}
	close(sentences)
	wg.Wait()
	ans.Text, ans.Usage = b.String(), usage
	return ans, err
}

// splitter cuts streamed text into sentences to synthesize: at . ! ? ; or
// a newline followed by space, or at a space once a piece grows long, so
// the first audio does not wait for the whole answer.
type splitter struct{ buf strings.Builder }

const maxPiece = 160

func (sp *splitter) push(d string) []string {
	sp.buf.WriteString(d)
	var out []string
	s := sp.buf.String()
	for {
		cut := -1
		for i, r := range s {
			if r == '\n' || ((r == '.' || r == '!' || r == '?' || r == ';') && i+1 < len(s) && unicode.IsSpace(rune(s[i+1]))) {
				cut = i + 1
				break
			}
		}
		if cut < 0 && len(s) > maxPiece {
			if sp := strings.LastIndexAny(s[:maxPiece], " ,"); sp > 0 {
				cut = sp + 1
			}
		}
		if cut < 0 {
			break
		}
		if piece := strings.TrimSpace(s[:cut]); piece != "" {
			out = append(out, piece)
		}
		s = s[cut:]
	}
	sp.buf.Reset()
	sp.buf.WriteString(s)
	return out
}

func (sp *splitter) flush() string {
	s := strings.TrimSpace(sp.buf.String())
	sp.buf.Reset()
	return s
}
