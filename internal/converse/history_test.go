package converse

import (
	"context"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat/chattest"
)

// Each turn sends the system prompt, the bounded history and the new words.
func TestHistoryBounded(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{Reply: func(r chattest.Request) string { return "Reply number " + string(rune('0'+len(r.Messages))) + "." }})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Pace: 100, MaxHistory: 2})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	q := say(t, e.syn, question)
	for turn := 1; turn <= 3; turn++ {
		c.speak(q, 1500*time.Millisecond)
		if ev, _ := c.until(evMetrics); ev.Turn != turn {
			t.Fatalf("turn.metrics for turn %d, want %d", ev.Turn, turn)
		}
	}
	reqs := up.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	for i, want := range []int{2, 4, 4} { // system + history (≤ 2) + user
		msgs := reqs[i].Messages
		if len(msgs) != want || msgs[0].Role != "system" || msgs[len(msgs)-1].Role != "user" {
			t.Errorf("turn %d sent %d messages %+v, want %d", i+1, len(msgs), msgs, want)
		}
	}
	if m := reqs[2].Messages; len(m) == 4 && (m[1].Role != "user" || m[2].Role != "assistant" || m[2].Content != "Reply number 4.") {
		t.Errorf("turn 3 history %+v", m[1:3])
	}
	c.text(`{"type":"stop"}`)
}

// A client that vanishes mid-reply ends the conversation: the upstream
// stream is cancelled and Close finds nothing left.
func TestClientGoneMidReply(t *testing.T) {
	e := loadEngines(t)
	hold := make(chan struct{})
	defer close(hold)
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return "One. Two. Three." },
		BeforeChunk: func(ctx context.Context, i int) error {
			if i == 0 {
				return nil
			}
			select {
			case <-hold:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Pace: 100})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	c.speak(say(t, e.syn, question), 1500*time.Millisecond)
	c.until(evDelta)
	_ = c.conn.CloseNow()
	deadline := time.Now().Add(10 * time.Second)
	for up.Canceled() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the chat stream outlived its client")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("a conversation outlived its client: %v", err)
	}
}
