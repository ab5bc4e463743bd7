package live

import (
	"context"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// Manager.Close honours its ctx: with minutes of audio still queued and a
// deadline already passed, it cancels the engine's work instead of
// draining, still saves the session (live, to resume) and returns.
func TestManagerCloseHonoursCtx(t *testing.T) {
	e := newEnv(t)
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t), Now: e.clk.Now,
		Audit: e.aud, TickEvery: time.Hour, Config: config.Live{QueueAudio: config.Duration(5 * time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := m.Create(t.Context(), "key:a", CreateRequest{Label: "long", Start: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Attach(t.Context(), "key:a", c.ID, "websocket")
	if err != nil {
		t.Fatal(err)
	}
	s := samples(t, utterance(t, pauseID))
	for range 20 { // about four minutes of audio, queued faster than recognised
		push(t, in.Write, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- m.Close(ctx) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second): // a hang, not a speed check
		t.Fatal("Manager.Close did not return after its ctx ended")
	}
	m2, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Now: e.clk.Now, Audit: e.aud, TickEvery: time.Hour,
		Config: config.Live{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(context.Background())
	info, err := m2.Get(t.Context(), "", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != Interrupted {
		t.Errorf("after a cut-short close the session is %s, want interrupted (to resume)", info.State)
	}
}
