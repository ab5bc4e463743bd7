package live

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/config"
)

type env struct {
	t    *testing.T
	dir  string
	conn func() *nats.Conn
	nc   *nats.Conn
	clk  *clocktest.Clock
	aud  *audittest.Recorder
}

func newEnv(t *testing.T) *env {
	conn := newNATS(t)
	return &env{t: t, dir: t.TempDir(), conn: conn, nc: conn(), clk: clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		aud: &audittest.Recorder{}}
}

// manager opens a Manager on the env's store directory.
func (e *env) manager(cfg config.Live) *Manager {
	e.t.Helper()
	st := newStore(e.t, e.dir)
	m, err := NewManager(e.t.Context(), ManagerOptions{Store: st, Conn: e.nc, Recognizer: newRecognizer(e.t),
		Config: cfg, Now: e.clk.Now, Audit: e.aud, TickEvery: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Close(context.Background()); st.Close() })
	return m
}

// watch opens a feed and returns a function that collects its events until
// cond holds.
func watch(t *testing.T, m *Manager, id string, after uint64) (Feed, func(what string, cond func([]Event) bool) []Event) {
	t.Helper()
	f, err := m.Watch(t.Context(), id, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	var got []Event
	return f, func(what string, cond func([]Event) bool) []Event {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for !cond(got) {
			select {
			case e, ok := <-f.Events():
				if !ok {
					t.Fatalf("feed closed (%v) while waiting for %s", f.Err(), what)
				}
				got = append(got, e)
			case <-timeout:
				t.Fatalf("timed out waiting for %s; have %d events", what, len(got))
			}
		}
		return got
	}
}

func hasState(st State) func([]Event) bool {
	return func(evs []Event) bool {
		for _, e := range evs {
			if e.Type == TypeState && e.State == st {
				return true
			}
		}
		return false
	}
}

func hasFinalText(evs []Event) bool {
	for _, e := range evs {
		if e.Type == TypeCaption && e.Final && e.Text != "" {
			return true
		}
	}
	return false
}

// checkSeq fails unless evs are numbered consecutively from first.
func checkSeq(t *testing.T, evs []Event, first uint64) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != first+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d (no gaps, no duplicates)", i, e.Seq, first+uint64(i))
		}
	}
}

func TestManagerLifecycleWordsAndRestart(t *testing.T) {
	e := newEnv(t)
	m := e.manager(config.Live{QueueAudio: config.Duration(time.Minute)})
	u := utterance(t, pauseID)
	c, err := m.Create(t.Context(), "key:a", CreateRequest{Label: "talk"})
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(c.ID) || c.State != Idle || c.ViewerMode != ViewPublic || c.LinkToken != "" || c.PreRollSecs != 2 {
		t.Fatalf("created %+v", c)
	}
	if _, err := m.Get(t.Context(), "key:b", c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another owner's Get: %v", err)
	}
	_, next := watch(t, m, c.ID, 0)
	if _, err := m.Start(t.Context(), "key:a", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(t.Context(), "key:a", c.ID); !errors.Is(err, ErrTransition) {
		t.Errorf("second Start: %v", err)
	}
	in, err := m.Attach(t.Context(), "key:a", c.ID, "websocket")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(t.Context(), "key:a", c.ID, "websocket"); !errors.Is(err, ErrBusy) {
		t.Errorf("second Attach: %v", err)
	}
	if info, _ := m.Get(t.Context(), "", c.ID); info.Source != "websocket" || info.State != Live {
		t.Errorf("info %+v", info)
	}
	push(t, in.Write, samples(t, u))
	push(t, in.Write, make([]float32, 2*16000))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	evs := next("the utterance's words", func(evs []Event) bool {
		r, _ := werOf(u.Reference, finalsOf(evs))
		return r <= 0.45
	})
	checkSeq(t, evs, 1)
	noWordsStored(t, m, finalsOf(evs))
	if evs[0].Type != TypeState || evs[0].State != Live || evs[0].SessionID != c.ID {
		t.Errorf("first event %+v, want the live state", evs[0])
	}

	// A second, live session is interrupted by a restart and resumed.
	c2, err := m.Create(t.Context(), "key:a", CreateRequest{Label: "second", Start: true})
	if err != nil || c2.State != Live {
		t.Fatalf("create+start: %+v %v", c2, err)
	}
	stopped, err := m.Stop(t.Context(), "key:a", c.ID)
	if err != nil || stopped.State != Stopped || stopped.StopReason != "operator" || stopped.StoppedAt == nil {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	if err := in.Write(make([]float32, 160)); !errors.Is(err, ErrTransition) {
		t.Errorf("Write after stop: %v", err)
	}
	evs = next("the stopped state", hasState(Stopped))
	checkSeq(t, evs, 1)
	lastSeq := evs[len(evs)-1].Seq
	m.Close(t.Context())

	m2 := e.manager(config.Live{})
	info, err := m2.Get(t.Context(), "key:a", c2.ID)
	if err != nil || info.State != Live {
		t.Fatalf("after restart: %+v %v", info, err)
	}
	_, next2 := watch(t, m2, c2.ID, 1) // c2's first event was its live state
	evs2 := next2("interrupted then live", func(evs []Event) bool {
		return len(evs) >= 2
	})
	if evs2[0].State != Interrupted || evs2[1].State != Live {
		t.Errorf("after restart %+v", evs2)
	}
	checkSeq(t, evs2, 2)
	old, err := m2.Get(t.Context(), "", c.ID)
	if err != nil || old.State != Stopped || old.LastSeq != lastSeq || old.Label != "talk" {
		t.Errorf("stopped session after restart: %+v %v", old, err)
	}
	actions := map[string]int{}
	for _, ev := range e.aud.Events() {
		actions[ev.Action]++
	}
	for _, a := range []string{"session.create", "session.start", "session.stop", "session.interrupt", "session.resume"} {
		if actions[a] == 0 {
			t.Errorf("no %s audited: %v", a, actions)
		}
	}

	// Without resume_on_restart the session stays interrupted.
	m2.Close(t.Context())
	no := false
	m3 := e.manager(config.Live{ResumeOnRestart: &no})
	if info, _ := m3.Get(t.Context(), "", c2.ID); info.State != Interrupted {
		t.Errorf("without resume: %s", info.State)
	}
	if info, err := m3.Resume(t.Context(), "key:a", c2.ID); err != nil || info.State != Live {
		t.Errorf("resume: %+v %v", info, err)
	}
	if err := m3.Delete(t.Context(), "key:a", c2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m3.Get(t.Context(), "", c2.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// noWordsStored fails if any recognised word of five letters or more
// appears anywhere in the live tables.
func noWordsStored(t *testing.T, m *Manager, finals []Event) {
	t.Helper()
	rows, err := m.recs.db.QueryContext(context.Background(), `SELECT * FROM live_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var dump strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&dump, vals...)
	}
	checked := 0
	for _, e := range finals {
		for _, w := range strings.Fields(e.Text) {
			if len(w) >= 5 {
				checked++
				if strings.Contains(strings.ToLower(dump.String()), strings.ToLower(w)) {
					t.Errorf("recognised word %q stored in live_sessions", w)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no words to look for")
	}
}
