package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
)

// More live sessions than decoders: a start that finds none free is
// refused at once (engine busy) and leaves no session behind; idle
// sessions give their decoders back, so a busy one always finds one.
func TestMoreSessionsThanDecoders(t *testing.T) {
	rec, err := pocketsphinx.New(context.Background(), speech.Spec{Engine: pocketsphinx.Name,
		Options: map[string]string{"decoders": "2"}}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	inUse := func() int { n, _ := rec.Streams(); return n }
	e := newEnv(t)
	open := func(idle time.Duration) *Manager {
		st := newStore(t, t.TempDir())
		m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: rec, Now: e.clk.Now, Audit: e.aud,
			TickEvery: time.Hour, Config: config.Live{MaxSessions: 4, QueueAudio: config.Duration(time.Minute),
				IdleRelease: config.Duration(idle)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(context.Background()); st.Close() })
		return m
	}
	start := func(m *Manager, label string) (Created, error) {
		return m.Create(t.Context(), "key:a", CreateRequest{Label: label, Start: true})
	}

	// Sessions that never release: the third is refused and not kept.
	m := open(-1)
	for _, l := range []string{"a", "b"} {
		if _, err := start(m, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := start(m, "refused"); !errors.Is(err, recognize.ErrBusy) || !errors.Is(err, ErrLimit) {
		t.Fatalf("third start with two decoders held: %v, want engine busy", err)
	}
	if list, _ := m.List(t.Context(), ""); len(list) != 2 {
		t.Fatalf("%d sessions after a refused create, want 2 (no ghost)", len(list))
	}
	m.Close(t.Context())
	if n := inUse(); n != 0 {
		t.Fatalf("%d decoders held after Close", n)
	}

	// Sessions that release after 1 s without audio: four live sessions
	// share two decoders. A start refused while the others still hold
	// theirs succeeds once they went idle (what Retry-After tells callers).
	m = open(time.Second)
	var a Created
	for i, l := range []string{"a", "b", "c", "d"} {
		var c Created
		var err error
		eventually(t, 30*time.Second, "a decoder for session "+l, func() bool {
			c, err = start(m, l)
			if err != nil && !errors.Is(err, recognize.ErrBusy) {
				t.Fatalf("start %s: %v", l, err)
			}
			return err == nil
		})
		if i == 0 {
			a = c
		}
	}
	if list, _ := m.List(t.Context(), ""); len(list) != 4 {
		t.Fatalf("%d sessions, want 4 (refused attempts leave none)", len(list))
	}
	eventually(t, 20*time.Second, "idle sessions to release their decoders", func() bool { return inUse() == 0 })
	// Four live sessions on two decoders: a busy one takes a decoder back
	// with its next audio and its words come through.
	_, next := watch(t, m, a.ID, 0)
	in, err := m.Attach(t.Context(), "key:a", a.ID, "websocket")
	if err != nil {
		t.Fatal(err)
	}
	push(t, in.Write, samples(t, utterance(t, pauseID)))
	push(t, in.Write, make([]float32, 2*16000))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	next("words from a session that was idle", hasFinalText)
	in.Close()
	for _, i := range mustList(t, m) {
		if i.State != Live {
			t.Errorf("session %s is %s, want live (idle sessions stay live)", i.Label, i.State)
		}
	}
}

func mustList(t *testing.T, m *Manager) []Info {
	t.Helper()
	l, err := m.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
