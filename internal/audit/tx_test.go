package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// A change and its audit entry commit together or not at all, and Record
// keeps chaining correctly after entries appended through transactions.
func TestRecordTxIsAtomicWithTheChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.db().ExecContext(context.Background(), "CREATE TABLE widgets (id TEXT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	l := e.open(t)
	count := func(q string) int {
		var n int
		if err := e.db().QueryRowContext(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	change := func(id string, ev Event, fail error) error {
		return e.st.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO widgets(id) VALUES(?)", id); err != nil {
				return err
			}
			if err := l.RecordTx(ctx, tx, ev); err != nil {
				return err
			}
			return fail
		})
	}
	ok := Event{Actor: "user:u1", Action: "widget.create", Outcome: OutcomeOK, RemoteIP: "192.0.2.1"}
	if err := change("w1", ok, nil); err != nil {
		t.Fatal(err)
	}
	// The audit write fails (no action): the change is rolled back.
	if err := change("w2", Event{Outcome: OutcomeOK}, nil); err == nil {
		t.Fatal("unauditable change committed")
	}
	// The change fails after its entry: the entry is rolled back.
	if err := change("w3", ok, errors.New("boom")); err == nil {
		t.Fatal("want boom")
	}
	if w, a := count("SELECT count(*) FROM widgets"), count("SELECT count(*) FROM audit_log"); w != 1 || a != 2 {
		t.Fatalf("%d widgets, %d entries; want 1 and 2", w, a)
	}
	// Record, whose cached head is now stale, still links correctly; and a
	// clock jump back does not reorder time through the tx path.
	e.record(t, l, 2)
	e.clock.Advance(-time.Hour)
	if err := change("w4", ok, nil); err != nil {
		t.Fatal(err)
	}
	e.record(t, l, 1)
	rep, err := e.verify(t, l)
	if err != nil || rep.Verified != 6 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// Entries appended only through RecordTx are sealed by the timer's
// checkpoint and by Close, not left for the next Record.
func TestRecordTxEntriesAreSealed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	l := e.open(t)
	for range 2 {
		if err := e.st.Tx(ctx, func(tx *store.Tx) error {
			return l.RecordTx(ctx, tx, Event{Actor: "key:k", Action: "key.create", Outcome: OutcomeOK})
		}); err != nil {
			t.Fatal(err)
		}
	}
	l.tick()
	if rep, err := e.verify(t, l); err != nil || rep.Covered != 3 {
		t.Fatalf("after tick: %+v, %v", rep, err)
	}
	e.st.Tx(ctx, func(tx *store.Tx) error {
		return l.RecordTx(ctx, tx, Event{Actor: "key:k", Action: "key.revoke", Outcome: OutcomeOK})
	})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.verify(t, l); err != nil || rep.Covered != 4 {
		t.Fatalf("after Close: %+v, %v", rep, err)
	}
}
