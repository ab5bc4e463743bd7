package outputs_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// idleSource serves feeds that carry nothing until closed, and none for
// session "ses_gone" (deleted).
type idleSource struct{}

type idleFeed struct{ ctx context.Context }

func (f idleFeed) Events() <-chan live.Event {
	ch := make(chan live.Event)
	go func() { <-f.ctx.Done(); close(ch) }()
	return ch
}
func (idleFeed) Err() error { return nil }
func (idleFeed) Close()     {}

func (idleSource) Open(ctx context.Context, id, _ string, _ uint64) (live.Feed, error) {
	if id == "ses_gone" {
		return nil, live.ErrNotFound
	}
	return idleFeed{ctx}, nil
}
func (idleSource) Offers(context.Context, live.Info, string) error { return nil }

// openStore opens a fresh database of the pass's dialect.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storedManager is a manager on st with its stored outputs restored.
func storedManager(t *testing.T, st *store.Store, dir string) *outputs.Manager {
	t.Helper()
	return restored(t, outputs.Options{Source: idleSource{}, Store: st, CredentialsDir: dir, FileDir: dir})
}

// restored is a manager of opts (with short backoffs) after Restore,
// closed at the test's end.
func restored(t *testing.T, opts outputs.Options) *outputs.Manager {
	t.Helper()
	opts.MinBackoff, opts.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	m, err := outputs.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeManager(t, m) })
	return m
}

func closeManager(t *testing.T, m *outputs.Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Error(err)
	}
}

func specs(infos []outputs.Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.ID+" "+i.Kind+" "+i.Name+"."+i.Format+" "+i.Credentials+" "+i.Lang)
	}
	slices.Sort(out)
	return out
}

func TestStoreRestart(t *testing.T) {
	st, dir := openStore(t), t.TempDir()
	m1 := storedManager(t, st, dir)
	var want []outputs.Info
	for _, s := range []outputs.Spec{{Kind: outputs.KindFile, Name: "hall", Format: "srt", Lang: "fr", Delay: 2},
		{Kind: outputs.KindFile, Name: "stage", Format: "txt"}} {
		info, err := m1.Add(t.Context(), "ses_1", s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, info)
	}
	if _, err := m1.Add(t.Context(), "ses_2", outputs.Spec{Kind: outputs.KindFile, Name: "other", Format: "txt"}); err != nil {
		t.Fatal(err)
	}
	// A refused spec is not stored.
	if _, err := m1.Add(t.Context(), "ses_1", outputs.Spec{Kind: outputs.KindFile, Name: "../x", Format: "txt"}); err == nil {
		t.Fatal("a bad name was accepted")
	}
	closeManager(t, m1)

	// Restart: a new manager on the same store has the outputs back, with
	// their ids and specs.
	m2 := storedManager(t, st, dir)
	if got, w := specs(m2.List("ses_1")), specs(want); !slices.Equal(got, w) {
		t.Fatalf("restored %q, want %q", got, w)
	}
	if got := m2.List("ses_1"); got[0].Delay+got[1].Delay != 2 || got[0].Health.State != "running" {
		t.Errorf("restored %+v", got)
	}
	if n := len(m2.List("ses_2")); n != 1 {
		t.Errorf("ses_2 has %d outputs after a restart", n)
	}
	// Removing one removes it from the store too.
	if err := m2.Remove(t.Context(), "ses_1", want[0].ID); err != nil {
		t.Fatal(err)
	}
	closeManager(t, m2)
	m3 := storedManager(t, st, dir)
	if got, w := specs(m3.List("ses_1")), specs(want[1:]); !slices.Equal(got, w) {
		t.Fatalf("after a removal and a restart: %q, want %q", got, w)
	}
	closeManager(t, m3)
}

func TestStoreDeletedSessionForgetsItsOutputs(t *testing.T) {
	st, dir := openStore(t), t.TempDir()
	m := storedManager(t, st, dir)
	if _, err := m.Add(t.Context(), "ses_gone", outputs.Spec{Kind: outputs.KindFile, Name: "gone", Format: "txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(t.Context(), "ses_1", outputs.Spec{Kind: outputs.KindFile, Name: "kept", Format: "txt"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted session's output to end", func() bool { return len(m.List("ses_gone")) == 0 })
	waitFor(t, "its stored row to go", func() bool {
		var n int
		if err := st.QueryRowContext(t.Context(), "SELECT count(*) FROM outputs WHERE session_id = ?", "ses_gone").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	closeManager(t, m)
	m2 := storedManager(t, st, dir)
	if len(m2.List("ses_gone")) != 0 || len(m2.List("ses_1")) != 1 {
		t.Errorf("after a restart: gone %d, kept %d", len(m2.List("ses_gone")), len(m2.List("ses_1")))
	}
}
