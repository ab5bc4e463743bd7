package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/testdata"
)

var bigQueue = config.Live{QueueAudio: config.Duration(time.Minute)}

func TestPreRollWordsRecognised(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	u := utterance(t, pauseID)
	s := samples(t, u)
	pre := 30.0
	c, err := m.Create(t.Context(), "k", CreateRequest{PreRoll: &pre})
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Attach(t.Context(), "k", c.ID, "file:test.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// The whole utterance arrives while idle: only the pre-roll keeps it.
	push(t, in.Write, s)
	// The audio is on the bus; wait until the owner has it in the ring.
	eventually(t, 30*time.Second, "the pre-roll filled", func() bool {
		sess, _ := m.lookup("", c.ID)
		sess.mu.Lock()
		defer sess.mu.Unlock()
		return sess.ring != nil && (sess.ring.full || sess.ring.pos >= len(s))
	})
	_, next := watch(t, m, c.ID, 0)
	if _, err := m.Start(t.Context(), "k", c.ID); err != nil {
		t.Fatal(err)
	}
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	evs := next("the pre-roll's words", func(evs []Event) bool {
		r, _ := werOf(u.Reference, finalsOf(evs))
		return r <= 0.45
	})
	r, hyp := werOf(u.Reference, finalsOf(evs))
	t.Logf("pre-roll WER %.3f: %q", r, hyp)
}

func TestPreRollKeepsOnlyTheLastSeconds(t *testing.T) {
	r := newRing(5)
	r.write([]float32{1, 2, 3})
	if got := r.take(); len(got) != 3 || got[2] != 3 {
		t.Fatalf("take %v", got)
	}
	r.write([]float32{1, 2, 3, 4})
	r.write([]float32{5, 6, 7})
	got := r.take()
	want := []float32{3, 4, 5, 6, 7}
	for i := range want {
		if len(got) != 5 || got[i] != want[i] {
			t.Fatalf("take %v, want %v", got, want)
		}
	}
	r.write([]float32{1, 2, 3, 4, 5, 6, 7, 8})
	if got := r.take(); len(got) != 5 || got[0] != 4 || got[4] != 8 {
		t.Fatalf("take %v", got)
	}
}

func TestAutoStopAfterSilence(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	five := 5.0
	quiet, err := m.Create(t.Context(), "k", CreateRequest{AutoStopAfter: &five, Start: true})
	if err != nil {
		t.Fatal(err)
	}
	talking, err := m.Create(t.Context(), "k", CreateRequest{AutoStopAfter: &five, Start: true})
	if err != nil {
		t.Fatal(err)
	}
	never, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(4 * time.Second)
	// Speech on one session moves its silence clock.
	in, err := m.Attach(t.Context(), "k", talking.ID, "websocket")
	if err != nil {
		t.Fatal(err)
	}
	_, next := watch(t, m, talking.ID, 0)
	push(t, in.Write, samples(t, utterance(t, pauseID))[:4*16000])
	in.Finalize()
	next("words", hasFinalText)
	e.clk.Advance(2 * time.Second)
	m.tickOnce(t.Context())
	for id, want := range map[string]State{quiet.ID: Stopped, talking.ID: Live, never.ID: Live} {
		info, _ := m.Get(t.Context(), "", id)
		if info.State != want {
			t.Errorf("%s: %s, want %s", id, info.State, want)
		}
		if want == Stopped && info.StopReason != "silence" {
			t.Errorf("stop reason %q", info.StopReason)
		}
	}
	e.clk.Advance(10 * time.Second)
	m.tickOnce(t.Context())
	if info, _ := m.Get(t.Context(), "", talking.ID); info.State != Stopped {
		t.Errorf("talking session after 12 s of silence: %s", info.State)
	}
	if info, _ := m.Get(t.Context(), "", never.ID); info.State != Live {
		t.Errorf("session without auto-stop: %s", info.State)
	}
	if len(e.aud.Find("session.stop", "ok")) != 2 {
		t.Errorf("audited stops: %+v", e.aud.Find("session.stop", "ok"))
	}
}

func TestSeveralSessionsAndTheCap(t *testing.T) {
	e := newEnv(t)
	cfg := bigQueue
	cfg.MaxSessions = 3
	m := e.manager(cfg)
	us := []string{"1089-134686-0001", "1988-24833-0000", "3752-4944-0000"}
	var ids []string
	for range us {
		c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := m.Create(t.Context(), "k", CreateRequest{Start: true}); !errors.Is(err, ErrLimit) {
		t.Errorf("fourth live session: %v", err)
	}
	if list, _ := m.List(t.Context(), "k"); len(list) != 3 {
		t.Errorf("a refused create+start left %d sessions, want 3", len(list))
	}
	idle, err := m.Create(t.Context(), "k", CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(t.Context(), "k", idle.ID); !errors.Is(err, ErrLimit) {
		t.Errorf("starting a fourth: %v", err)
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		u := utterance(t, us[i])
		in, err := m.Attach(t.Context(), "k", id, "websocket")
		if err != nil {
			t.Fatal(err)
		}
		_, next := watch(t, m, id, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			push(t, in.Write, samples(t, u))
			in.Finalize()
		}()
		defer func() {
			evs := next("words of "+u.ID, func(evs []Event) bool {
				r, _ := werOf(u.Reference, finalsOf(evs))
				return r <= 0.5
			})
			r, hyp := werOf(u.Reference, finalsOf(evs))
			t.Logf("%s WER %.3f: %q", u.ID, r, hyp)
			for _, ev := range evs {
				if ev.SessionID != id {
					t.Errorf("event of %s on %s's feed", ev.SessionID, id)
				}
			}
		}()
	}
	wg.Wait()
}

func TestWatchCatchUpAfterTheFactAndFromAnotherConnection(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	u := utterance(t, pauseID)
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := m.Attach(t.Context(), "k", c.ID, "websocket")
	push(t, in.Write, samples(t, u))
	in.Finalize()
	_, next := watch(t, m, c.ID, 0)
	all := next("the words", func(evs []Event) bool {
		r, _ := werOf(u.Reference, finalsOf(evs))
		return r <= 0.45
	})
	if _, err := m.Stop(t.Context(), "k", c.ID); err != nil {
		t.Fatal(err)
	}
	all = next("stopped", hasState(Stopped))
	checkSeq(t, all, 1)

	// A viewer that joins after the fact gets the held history: finals
	// and state events, in order, none twice.
	_, late := watch(t, m, c.ID, 0)
	held := late("the history", hasState(Stopped))
	var wantHeld []Event
	for _, ev := range all {
		if ev.Type == TypeState || (ev.Type == TypeCaption && ev.Final) {
			wantHeld = append(wantHeld, ev)
		}
	}
	if len(held) != len(wantHeld) {
		t.Fatalf("late viewer got %d events, want the %d held", len(held), len(wantHeld))
	}
	for i := range held {
		if held[i].Seq != wantHeld[i].Seq || held[i].Text != wantHeld[i].Text {
			t.Fatalf("late event %d: %+v, want %+v", i, held[i], wantHeld[i])
		}
	}

	// A viewer in another process (its own connection and manager, which
	// does not own the session) catches up after a seq, then follows.
	e2 := &env{t: t, dir: t.TempDir(), conn: e.conn, nc: e.conn(), clk: e.clk, aud: e.aud}
	viewer := e2.manager(bigQueue)
	mid := wantHeld[1].Seq
	_, remote := watch(t, viewer, c.ID, mid)
	got := remote("catch-up from the other node", hasState(Stopped))
	if got[0].Seq <= mid {
		t.Errorf("first remote event seq %d, want > %d", got[0].Seq, mid)
	}
	if got[len(got)-1].Seq != all[len(all)-1].Seq {
		t.Errorf("remote viewer ends at %d, want %d", got[len(got)-1].Seq, all[len(all)-1].Seq)
	}
	// Live events reach the remote viewer through the bus.
	if _, err := m.Update(t.Context(), "k", c.ID, UpdateRequest{Label: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	got = remote("the label change", func(evs []Event) bool {
		return evs[len(evs)-1].Label == "renamed"
	})
	if got[len(got)-1].Seq != all[len(all)-1].Seq+1 {
		t.Errorf("label event seq %d", got[len(got)-1].Seq)
	}
	if _, err := viewer.Watch(t.Context(), "ses_aaaaaaaaaaaaaaaaaaaaaaaaaa", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSlowFeedClosedFastOneKeepsUp(t *testing.T) {
	e := newEnv(t)
	cfg := bigQueue
	cfg.ViewerBuffer = 8
	m := e.manager(cfg)
	c, err := m.Create(t.Context(), "k", CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := m.Watch(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := m.Watch(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	sess, _ := m.lookup("", c.ID)
	const n = 200
	// Lockstep: the fast viewer takes each event before the next is
	// published; the slow one never reads.
	for i := range n {
		sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: i, Text: "x"})
		select {
		case e, ok := <-fast.Events():
			if !ok || e.Seq != uint64(i+1) {
				t.Fatalf("fast viewer: event %+v (open %v, err %v), want seq %d", e, ok, fast.Err(), i+1)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("fast viewer: no event %d", i+1)
		}
	}
	eventually(t, 10*time.Second, "the slow feed closed", func() bool { return errors.Is(slow.Err(), ErrSlow) })
	// It was closed, not left blocking: the channel drains and ends.
	count := 0
	for range slow.Events() {
		count++
	}
	if count > 8 {
		t.Errorf("slow feed buffered %d events, cap 8", count)
	}
}

func TestViewerSecretsAndSettings(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	ctx := t.Context()
	link, err := m.Create(ctx, "k", CreateRequest{ViewerMode: ViewLink})
	if err != nil || len(link.LinkToken) < 40 {
		t.Fatalf("link session: %+v %v", link, err)
	}
	if _, err := m.CheckViewer(ctx, link.ID, link.LinkToken); err != nil {
		t.Errorf("right token: %v", err)
	}
	wrong := []byte(link.LinkToken)
	wrong[len(wrong)-1] ^= 1 // always a different last character
	if _, err := m.CheckViewer(ctx, link.ID, string(wrong)); !errors.Is(err, ErrSecret) {
		t.Errorf("wrong token: %v", err)
	}
	pw, err := m.Create(ctx, "k", CreateRequest{ViewerMode: ViewPassword, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CheckViewer(ctx, pw.ID, "correct horse"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if _, err := m.CheckViewer(ctx, pw.ID, "correct hors"); !errors.Is(err, ErrSecret) {
		t.Errorf("wrong password: %v", err)
	}
	priv, _ := m.Create(ctx, "k", CreateRequest{ViewerMode: ViewPrivate})
	if _, err := m.CheckViewer(ctx, priv.ID, ""); !errors.Is(err, ErrSecret) {
		t.Errorf("private: %v", err)
	}
	pub, _ := m.Create(ctx, "k", CreateRequest{})
	if _, err := m.CheckViewer(ctx, pub.ID, ""); err != nil {
		t.Errorf("public: %v", err)
	}
	// Nothing secret is stored in the clear.
	var stored string
	m.recs.db.QueryRowContext(context.Background(), `SELECT viewer_secret FROM live_sessions WHERE id=?`, pw.ID).Scan(&stored)
	if stored == "" || stored == "correct horse" || stored[:9] != "$argon2id" {
		t.Errorf("stored password %q", stored)
	}
	m.recs.db.QueryRowContext(context.Background(), `SELECT viewer_secret FROM live_sessions WHERE id=?`, link.ID).Scan(&stored)
	if stored == link.LinkToken || stored[:7] != "sha256:" {
		t.Errorf("stored token %q", stored)
	}
	for name, req := range map[string]CreateRequest{
		"short password":    {ViewerMode: ViewPassword, Password: "short"},
		"password w/o mode": {Password: "long enough pw"},
		"bad mode":          {ViewerMode: "secret"},
		"long label":        {Label: string(make([]byte, MaxLabel+1))},
		"bad hotword":       {Hotwords: []string{"zzyzxqvw"}},
		"empty hotword":     {Hotwords: []string{" "}},
		"bad language":      {Language: "en_US;drop"},
		"negative autostop": {AutoStopAfter: ptr(-1.0)},
		"long pre-roll":     {PreRoll: ptr(31.0)},
	} {
		if _, err := m.Create(ctx, "k", req); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v, want ErrBadConfig", name, err)
		}
	}
	if c, err := m.Create(ctx, "k", CreateRequest{Hotwords: []string{"hello"}}); err != nil || len(c.Hotwords) != 1 {
		t.Errorf("spellable hotword: %+v %v", c, err)
	}
	if _, err := m.Update(ctx, "k", pub.ID, UpdateRequest{ViewerMode: ptr(ViewLink)}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("to link: %v", err)
	}
	if info, err := m.Update(ctx, "k", pub.ID, UpdateRequest{ViewerMode: ptr(ViewPassword), Password: ptr("another pass")}); err != nil || info.ViewerMode != ViewPassword {
		t.Errorf("to password: %+v %v", info, err)
	}
	if _, err := m.CheckViewer(ctx, pub.ID, "another pass"); err != nil {
		t.Errorf("new password: %v", err)
	}
	list, _ := m.List(ctx, "k")
	other, _ := m.List(ctx, "other")
	if len(list) != 5 || len(other) != 0 {
		t.Errorf("list %d, other %d", len(list), len(other))
	}
}

func TestDeleteEndsFeedsAndNoEngine(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	c, _ := m.Create(t.Context(), "k", CreateRequest{Start: true})
	f, err := m.Watch(t.Context(), c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(t.Context(), "other", c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("other owner's delete: %v", err)
	}
	if err := m.Delete(t.Context(), "k", c.ID); err != nil {
		t.Fatal(err)
	}
	for range f.Events() {
	}
	if !errors.Is(f.Err(), ErrNotFound) {
		t.Errorf("feed after delete: %v", f.Err())
	}

	st := newStore(t, t.TempDir())
	defer st.Close()
	m2, err := NewManager(t.Context(), ManagerOptions{Store: st, Conn: e.nc})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(t.Context())
	c2, err := m2.Create(t.Context(), "k", CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Start(t.Context(), "k", c2.ID); !errors.Is(err, ErrNoEngine) {
		t.Errorf("start without engine: %v", err)
	}
}

func TestUpdateHotwordsWhileLiveAndLabelWhenStopped(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	ctx := t.Context()
	u := utterance(t, "1988-24833-0000")
	c, err := m.Create(ctx, "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "k", c.ID, UpdateRequest{Hotwords: &[]string{"zzyzxqvw"}}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("unspellable hotword: %v", err)
	}
	info, err := m.Update(ctx, "k", c.ID, UpdateRequest{Hotwords: &[]string{"kittens"}})
	if err != nil || info.State != Live || len(info.Hotwords) != 1 {
		t.Fatalf("hotwords while live: %+v %v", info, err)
	}
	// The reopened pipeline still recognises.
	in, _ := m.Attach(ctx, "k", c.ID, "websocket")
	_, next := watch(t, m, c.ID, 0)
	push(t, in.Write, samples(t, u))
	in.Finalize()
	next("words after the hotword change", func(evs []Event) bool {
		r, _ := werOf(u.Reference, finalsOf(evs))
		return r <= 0.5
	})
	if _, err := m.Stop(ctx, "k", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "k", c.ID, UpdateRequest{AutoStopAfter: ptr(3.0)}); !errors.Is(err, ErrTransition) {
		t.Errorf("settings of a stopped session: %v", err)
	}
	info, err = m.Update(ctx, "k", c.ID, UpdateRequest{Label: ptr("archived")})
	if err != nil || info.Label != "archived" || info.State != Stopped {
		t.Fatalf("label when stopped: %+v %v", info, err)
	}
	next("the label event", func(evs []Event) bool {
		l := evs[len(evs)-1]
		return l.Type == TypeState && l.Label == "archived" && l.State == Stopped
	})
}

func TestNumberingJumpsPastACrash(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := m.lookup("", c.ID)
	for range 5 {
		sess.pub.publish(Event{Type: TypeCaption, Text: "x"}) // partials: seen by viewers, not saved
	}
	m.tickOnce(t.Context()) // saves while running: seq_exact = 0
	sess.pub.publish(Event{Type: TypeCaption, Text: "y"})
	var exact bool
	var saved uint64
	m.recs.db.QueryRowContext(context.Background(), `SELECT seq_exact, last_seq FROM live_sessions WHERE id=?`, c.ID).Scan(&exact, &saved)
	if exact || saved != 6 {
		t.Fatalf("while running: exact=%v last_seq=%d", exact, saved)
	}
	m.Close(t.Context())
	// A clean stop saved the exact seq (7 events); pretend the process
	// died instead, before that save.
	if _, err := m.recs.db.ExecContext(context.Background(), `UPDATE live_sessions SET seq_exact=0, last_seq=6 WHERE id=?`, c.ID); err != nil {
		t.Fatal(err)
	}
	m2 := e.manager(bigQueue)
	_, next := watch(t, m2, c.ID, 0)
	evs := next("interrupted and resumed", func(evs []Event) bool { return len(evs) >= 2 })
	if evs[0].State != Interrupted || evs[0].Seq != 6+crashSeqGap+1 {
		t.Errorf("after a crash: %+v", evs[0])
	}
	m2.Close(t.Context())
	// After a clean stop numbering continues exactly.
	m3 := e.manager(bigQueue)
	_, next3 := watch(t, m3, c.ID, 0)
	evs3 := next3("interrupted and resumed", func(evs []Event) bool { return len(evs) >= 2 })
	if evs3[0].Seq != evs[len(evs)-1].Seq+1 {
		t.Errorf("after a clean stop: seq %d follows %d", evs3[0].Seq, evs[len(evs)-1].Seq)
	}
}

func TestBusIngestFromAnotherConnection(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	u := utterance(t, "3752-4944-0000")
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	// An ingest node: its own connection, no manager, no store.
	in, err := NewBusIngest(e.conn(), c.ID, 16000)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	wordsArrive(t, m, c.ID, in, u, "words from the other node")
	if _, err := NewBusIngest(e.nc, "ses_bad.subject.>", 16000); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	in.Close()
	if err := in.Write(make([]float32, 10)); err == nil {
		t.Error("write after Close accepted")
	}
}

func TestCatchUpPagesThroughLongHistory(t *testing.T) {
	e := newEnv(t)
	cfg := bigQueue
	cfg.ViewerBuffer = 4 // catch-up is not limited by the live buffer
	m := e.manager(cfg)
	c, _ := m.Create(t.Context(), "k", CreateRequest{})
	sess, _ := m.lookup("", c.ID)
	const n = 3*historyPage + 7
	for i := range n {
		sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: i, Text: "x"})
	}
	_, next := watch(t, m, c.ID, 5)
	got := next("the whole history", func(evs []Event) bool { return len(evs) >= n-5 })
	checkSeq(t, got, 6)
	// Live events follow the catch-up.
	sess.pub.publish(Event{Type: TypeState, State: Idle})
	got = next("the live event", func(evs []Event) bool { return len(evs) == n-4 })
	checkSeq(t, got, 6)
}

// A source attached to a session of this manager hands its audio over in
// process: nothing reaches the session's audio subject, and the words
// still come.
func TestAttachedIngestStaysInProcess(t *testing.T) {
	e := newEnv(t)
	m := e.manager(bigQueue)
	u := utterance(t, "3752-4944-0000")
	c, err := m.Create(t.Context(), "k", CreateRequest{Start: true})
	if err != nil {
		t.Fatal(err)
	}
	var onBus atomic.Int64
	bus := e.conn()
	if _, err := bus.Subscribe(SubjectsFor(c.ID).Audio, func(*nats.Msg) { onBus.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := bus.Flush(); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	in, err := m.Attach(t.Context(), "k", c.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	wordsArrive(t, m, c.ID, in, u, "words through the in-process transport")
	if err := bus.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := onBus.Load(); n != 0 {
		t.Errorf("%d audio messages went over the bus", n)
	}
}

// wordsArrive writes u into in, finalizes, and waits until session id's
// finals say it with WER ≤ 0.5.
func wordsArrive(t *testing.T, m *Manager, id string, in Ingest, u testdata.Utterance, what string) {
	t.Helper()
	_, next := watch(t, m, id, 0)
	push(t, in.Write, samples(t, u))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	next(what, func(evs []Event) bool {
		r, _ := werOf(u.Reference, finalsOf(evs))
		return r <= 0.5
	})
}
