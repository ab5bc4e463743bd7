package live

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// No I/O under a session lock: while a transition waits on its audit
// record or its record write, and while a kept final is being stored, the
// session's audio is still taken in and its info still answered.

// blockingAudit holds every Record of action until released.
type blockingAudit struct {
	action  string
	entered chan struct{} // closed when a Record of action began
	release chan struct{}
	once    sync.Once
}

var _ audit.Recorder = (*blockingAudit)(nil)

func (b *blockingAudit) Record(ctx context.Context, e audit.Event) error {
	if e.Action != b.action {
		return nil
	}
	b.once.Do(func() { close(b.entered) })
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil
}

// msgsIn is how many audio messages s took in.
func msgsIn(s *session) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgsIn
}

// within runs f, failing the test when it has not returned within d (on
// code that does I/O under the lock it would wait for the test's cleanup
// to unblock it).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
	}
}

// releaser closes ch once, now or at the test's end.
func releaser(t *testing.T, ch chan struct{}) func() {
	var once sync.Once
	f := func() { once.Do(func() { close(ch) }) }
	t.Cleanup(f)
	return f
}

// liveWithSource creates a live session on m with a source attached.
func liveWithSource(t *testing.T, m *Manager) (Created, Ingest, *session) {
	t.Helper()
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Attach(t.Context(), "k", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	s, _ := m.lookup("", c.ID)
	return c, in, s
}

// writeAsync writes frame n times from another goroutine; the channel
// closes once every write returned.
func writeAsync(t *testing.T, in Ingest, frame []float32, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if err := in.Write(frame); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	return done
}

// flowsDuring checks, while a pause is held up being what, that ten
// frames written to in return and taken holds, that Get answers (state
// want) and that the pause has not returned.
func flowsDuring(t *testing.T, m *Manager, in Ingest, id string, paused <-chan error, want State, what string, taken func() bool) {
	t.Helper()
	wrote := writeAsync(t, in, make([]float32, 1600), 10)
	eventually(t, 10*time.Second, "audio taken in while the pause is "+what, func() bool {
		select {
		case <-wrote:
			return taken()
		default:
			return false
		}
	})
	var info Info
	var err error
	within(t, 10*time.Second, "Get", func() { info, err = m.Get(t.Context(), "k", id) })
	if err != nil || info.State != want {
		t.Fatalf("while the pause is %s: %s %v, want %s", what, info.State, err, want)
	}
	select {
	case err := <-paused:
		t.Fatalf("the pause returned before it was %s: %v", what, err)
	default:
	}
}

func TestAudioFlowsWhileATransitionAudits(t *testing.T) {
	e := newEnv(t)
	aud := &blockingAudit{action: "session.pause", entered: make(chan struct{}), release: make(chan struct{})}
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t),
		Now: e.clk.Now, Audit: aud, TickEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	c, in, s := liveWithSource(t, m)
	release := releaser(t, aud.release) // first at cleanup
	paused := make(chan error, 1)
	go func() { _, err := m.Pause(context.Background(), "k", c.ID); paused <- err }()
	<-aud.entered
	var p *Pipeline
	within(t, 10*time.Second, "the session's pipeline", func() {
		s.mu.Lock()
		p = s.pipe
		s.mu.Unlock()
	})
	if p == nil {
		t.Fatal("the pipeline went before the pause was audited")
	}
	before := p.Stats().AudioIn
	flowsDuring(t, m, in, c.ID, paused, Live, "audited", func() bool { return p.Stats().AudioIn-before >= time.Second })
	release()
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
}

func TestAudioFlowsWhileATransitionSaves(t *testing.T) {
	m := newEnv(t).manager(config.Live{})
	c, in, s := liveWithSource(t, m)
	_, next := watch(t, m, c.ID, 0)
	// A transaction holds the session's row (and, on SQLite, the store's
	// one connection): the pause's record write waits for it.
	held, hold := make(chan struct{}), make(chan struct{})
	unhold := releaser(t, hold) // first at cleanup
	txDone := make(chan error, 1)
	go func() {
		txDone <- m.recs.db.Tx(context.Background(), func(tx *store.Tx) error {
			_, err := tx.ExecContext(context.Background(), `UPDATE live_sessions SET label=label WHERE id=?`, c.ID)
			close(held)
			<-hold
			return err
		})
	}()
	<-held
	paused := make(chan error, 1)
	go func() { _, err := m.Pause(context.Background(), "k", c.ID); paused <- err }()
	// Viewers are told before the record is saved.
	next("paused", func(evs []Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Type == TypeState && evs[len(evs)-1].State == Paused
	})
	var base int64
	within(t, 10*time.Second, "the session's counters", func() { base = msgsIn(s) })
	flowsDuring(t, m, in, c.ID, paused, Paused, "saved", func() bool { return msgsIn(s)-base == 10 })
	unhold()
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
}

func TestSessionAnswersWhileAFinalIsKept(t *testing.T) {
	e := newEnv(t)
	entered, release := make(chan Event, 1), make(chan struct{})
	keep := func(ev Event) {
		select {
		case entered <- ev:
		default:
		}
		<-release
	}
	st := newStore(t, e.dir)
	m, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(t), Now: e.clk.Now,
		Audit: e.aud, TickEvery: time.Hour, Config: config.Live{QueueAudio: config.Duration(time.Minute)},
		Privacy: Privacy{KeepTranscript: true, Keep: keep}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	_, next := watch(t, m, c.ID, 0)
	in, err := m.Attach(t.Context(), "k", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	unblock := releaser(t, release) // first at cleanup
	push(t, in.Write, samples(t, utterance(t, pauseID)))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	var kept Event
	select {
	case kept = <-entered:
	case <-time.After(60 * time.Second):
		t.Fatal("no final reached Keep")
	}
	within(t, 10*time.Second, "Get while a final is kept", func() { _, err = m.Get(context.Background(), "k", c.ID) })
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "Stats while a final is kept", func() { _, err = m.Stats(context.Background(), c.ID) })
	if err != nil {
		t.Fatal(err)
	}
	// The final reaches no viewer, nor the history they catch up from,
	// before it is stored.
	s, _ := m.lookup("", c.ID)
	var held []Event
	within(t, 10*time.Second, "the history while a final is kept", func() { held = s.pub.after(kept.Seq-1, historyPage) })
	if len(held) > 0 {
		t.Fatalf("history holds seq %d while final %d is being kept", held[0].Seq, kept.Seq)
	}
	unblock()
	next("the kept final", func(evs []Event) bool {
		for _, ev := range evs {
			if ev.Seq == kept.Seq && ev.Final && ev.Text == kept.Text {
				return true
			}
		}
		return false
	})
}
