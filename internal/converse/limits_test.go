package converse

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
)

func newLimiter(t *testing.T, l limit.Limits) *limit.Limiter {
	t.Helper()
	lim, err := limit.New(context.Background(), limit.Options{Defaults: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close(context.Background()) })
	return lim
}

// A conversation holds a session slot; audio is charged to the day's quota
// and refused past it.
func TestSessionSlotAndAudioQuota(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{MaxSessions: 1, AudioMinutesPerDay: 0.02}) // 1.2 s of audio
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Sessions: lim})
	url := serve(t, h)
	c := dial(t, url, cfgMsg)
	c.until(evReady)
	if n, _ := lim.Sessions(context.Background(), caller); n != 1 {
		t.Errorf("%d sessions held, want 1", n)
	}
	_, resp, err := websocket.Dial(context.Background(), url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second conversation: %v, want 429", err)
	}
	// 2 s: past the quota. The server may close the socket before the
	// last frames are written; the close it sends is checked below.
	_ = c.send(make([]float32, 16000*2), 0)
	var it item
	for it = c.next(); it.err == nil; it = c.next() {
	}
	var ce websocket.CloseError
	if !errors.As(it.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "quota") {
		t.Errorf("over quota: %v, want 1008 quota", it.err)
	}
	awaitNoSlots(t, lim, "the session slot was not released")
	u, _ := lim.Usage(context.Background(), caller)
	if u.Used.AudioMinutes < 0.015 || u.Used.AudioMinutes > 0.02 {
		t.Errorf("charged %.3f audio minutes", u.Used.AudioMinutes)
	}
}

// {"type":"cancel"} stops the reply like a barge-in.
func TestCancelControl(t *testing.T) {
	e := loadEngines(t)
	hold := make(chan struct{})
	defer close(hold)
	up := chattest.New(chattest.Options{Reply: func(chattest.Request) string { return "One. Two. Three. Four. Five." },
		BeforeChunk: func(ctx context.Context, i int) error {
			if i < 2 {
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
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Pace: 50})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	c.speak(say(t, e.syn, question), 1500*time.Millisecond)
	c.until(evDelta)
	c.text(`{"type":"cancel"}`)
	ev, _ := c.until(evBargeIn)
	if ev.Turn != 1 {
		t.Errorf("barge_in %+v", ev)
	}
	// The upstream stream was cancelled, not left running.
	deadline := time.Now().Add(10 * time.Second)
	for up.Canceled() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the chat stream was not cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.text(`{"type":"stop"}`)
}

// A silent client is closed after IdleTimeout; the server's Close ends an
// open conversation with 1001.
func TestIdleAndShutdown(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), IdleTimeout: 300 * time.Millisecond})
	url := serve(t, h)
	c := dial(t, url, cfgMsg)
	c.until(evReady)
	var it item
	for it = c.next(); it.err == nil; it = c.next() {
	}
	var ce websocket.CloseError
	if !errors.As(it.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "idle") {
		t.Errorf("idle: %v", it.err)
	}

	h2 := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up)})
	c2 := dial(t, serve(t, h2), cfgMsg)
	c2.until(evReady)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for it = c2.next(); it.err == nil; it = c2.next() {
	}
	if !errors.As(it.err, &ce) || ce.Code != websocket.StatusGoingAway {
		t.Errorf("shutdown: %v, want 1001", it.err)
	}
}

// A revoked key's conversation closes within RecheckEvery.
func TestRevokedCredentialCloses(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	var revoked atomic.Bool
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), RecheckEvery: 100 * time.Millisecond,
		Recheck: func(_ context.Context, p auth.Principal) error {
			if p.Subject != caller.Subject {
				t.Errorf("rechecked %q", p.Subject)
			}
			if revoked.Load() {
				return errors.New("revoked")
			}
			return nil
		}})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	revoked.Store(true)
	var it item
	for it = c.next(); it.err == nil; it = c.next() {
	}
	var ce websocket.CloseError
	if !errors.As(it.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "no longer valid") {
		t.Errorf("revoked: %v", it.err)
	}
}

// A message over the read limit closes with 1009; audio that is not whole
// samples is tolerated (the converter keeps the odd byte).
func TestMessageTooBig(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up)})
	c := dial(t, serve(t, h), cfgMsg)
	c.until(evReady)
	if err := c.conn.Write(context.Background(), websocket.MessageBinary, make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.Write(context.Background(), websocket.MessageBinary, make([]byte, 2<<20))
	var it item
	for it = c.next(); it.err == nil; it = c.next() {
	}
	var ce websocket.CloseError
	if !errors.As(it.err, &ce) || ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("2 MiB message: %v, want 1009", it.err)
	}
}

// With every recognizer stream taken, a conversation is refused at once
// with close 4029 (never a hang), and holds nothing afterwards: the next
// one opens when a decoder is free.
func TestRecognizerBusyCloses4029(t *testing.T) {
	e := loadEngines(t)
	up := chattest.New(chattest.Options{})
	defer up.Close()
	lim := newLimiter(t, limit.Limits{MaxSessions: 10})
	h := NewHandler(Options{Recognizer: e.rec, VAD: e.vad, Synthesizer: e.syn, Chat: newChat(t, up), Sessions: lim})
	url := serve(t, h)
	release := speechtest.Exhaust(t, e.rec)
	c := dial(t, url, cfgMsg)
	var it item
	for it = c.next(); it.err == nil; it = c.next() {
		if it.ev.Type == evReady {
			t.Fatal("a conversation started with every decoder taken")
		}
	}
	var ce websocket.CloseError
	if !errors.As(it.err, &ce) || ce.Code != closeBusy {
		t.Fatalf("at capacity: %v, want close 4029", it.err)
	}
	awaitNoSlots(t, lim, "a refused conversation still holds its session slot")
	release()
	c2 := dial(t, url, cfgMsg)
	c2.until(evReady)
}

// awaitNoSlots polls until the caller holds no session slot, failing with
// why at the deadline.
func awaitNoSlots(t *testing.T, lim *limit.Limiter, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := lim.Sessions(context.Background(), caller); n != 0; n, _ = lim.Sessions(context.Background(), caller) {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
