package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// readEntries returns every stored entry, decoded.
func readEntries(t *testing.T, e *testEnv) []Entry {
	t.Helper()
	rows, err := e.db().QueryContext(context.Background(), "SELECT entry FROM audit_log ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		en, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, en)
	}
	return out
}

// rewriteChain replaces the whole table with entries, renumbered from 1 and
// correctly chained: what an attacker who understands the format does.
func rewriteChain(t *testing.T, e *testEnv, entries []Entry) {
	t.Helper()
	e.exec(t, "DELETE FROM audit_log")
	head := Genesis()
	for i, en := range entries {
		en.Seq = int64(i + 1)
		b, err := Encode(en)
		if err != nil {
			t.Fatal(err)
		}
		h := ChainHash(head, b)
		if _, err := e.db().ExecContext(context.Background(), "INSERT INTO audit_log(seq, entry, prev, hash) VALUES(?,?,?,?)", en.Seq, b, head[:], h[:]); err != nil {
			t.Fatal(err)
		}
		head = h
	}
}

// forgedRow returns an entry for seq correctly linked to prev.
func forgedRow(t *testing.T, seq int64, prev []byte, when time.Time) (entry, hash []byte) {
	t.Helper()
	b, err := Encode(Entry{Seq: seq, Event: Event{Time: when, Actor: "user:mallory", Action: "key.create", Outcome: OutcomeOK}})
	if err != nil {
		t.Fatal(err)
	}
	h := ChainHash(Hash(prev), b)
	return b, h[:]
}

// Every kind of tampering is caught, at the position where the log first
// stops being what was written.
func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, e *testEnv)
		wantSeq int64
		want    string
	}{
		{"clean", func(*testing.T, *testEnv) {}, 0, ""},
		{"edit", func(t *testing.T, e *testEnv) {
			e.exec(t, "UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), 'user:u1', 'user:u2') AS BLOB) WHERE seq = 4")
		}, 4, "does not match its hash"},
		{"edit non-canonically", func(t *testing.T, e *testEnv) {
			e.exec(t, `UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), '"action"', ' "action"') AS BLOB) WHERE seq = 4`)
		}, 4, "canonical"},
		{"delete", func(t *testing.T, e *testEnv) {
			e.exec(t, "DELETE FROM audit_log WHERE seq = 4")
		}, 4, "deleted"},
		{"reorder", func(t *testing.T, e *testEnv) {
			e.exec(t, "UPDATE audit_log SET seq = -4 WHERE seq = 4", "UPDATE audit_log SET seq = 4 WHERE seq = 5",
				"UPDATE audit_log SET seq = 5 WHERE seq = -4")
		}, 4, "reordered"},
		{"insert", func(t *testing.T, e *testEnv) {
			e.exec(t, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4", "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000",
				"INSERT INTO audit_log(seq, entry, prev, hash) SELECT 4, entry, prev, hash FROM audit_log WHERE seq = 3")
		}, 4, "stored at 4"},
		{"insert correctly linked", func(t *testing.T, e *testEnv) {
			var prev []byte
			if err := e.db().QueryRowContext(context.Background(), "SELECT hash FROM audit_log WHERE seq = 3").Scan(&prev); err != nil {
				t.Fatal(err)
			}
			entry, hash := forgedRow(t, 4, prev, readEntries(t, e)[2].Event.Time)
			e.exec(t, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4", "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000")
			if _, err := e.db().ExecContext(context.Background(), "INSERT INTO audit_log(seq, entry, prev, hash) VALUES(4, ?, ?, ?)", entry, prev, hash); err != nil {
				t.Fatal(err)
			}
		}, 5, "stored at 5"},
		{"append forged", func(t *testing.T, e *testEnv) {
			entry, _ := forgedRow(t, 12, make([]byte, 32), time.Now())
			e.exec(t, fmt.Sprintf("INSERT INTO audit_log(seq, entry, prev, hash) VALUES(12, x'%x', zeroblob(32), zeroblob(32))", entry))
		}, 12, "does not link"},
		{"truncate below checkpoint", func(t *testing.T, e *testEnv) {
			e.exec(t, "DELETE FROM audit_log WHERE seq > 3")
		}, 4, "tail truncated"},
		{"rewrite whole chain", func(t *testing.T, e *testEnv) {
			en := readEntries(t, e)
			en[2].Event.Actor = "user:someone-else"
			rewriteChain(t, e, en)
		}, 6, "differs from the signed checkpoint"},
		{"rewrite without one entry", func(t *testing.T, e *testEnv) {
			en := readEntries(t, e)
			rewriteChain(t, e, append(en[:3:3], en[4:]...))
		}, 6, "differs from the signed checkpoint"},
		{"time backwards", func(t *testing.T, e *testEnv) {
			en := readEntries(t, e)
			en[10].Event.Time = en[9].Event.Time.Add(-time.Minute)
			rewriteChain(t, e, en)
		}, 11, "before the previous"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			l := e.open(t)
			e.record(t, l, 5) // entries 1 (audit.start) .. 6
			if _, err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.record(t, l, 5) // .. 11, past the checkpoint
			tc.tamper(t, e)
			rep, err := e.verify(t, l)
			if tc.wantSeq == 0 {
				if err != nil || !rep.OK() || rep.Verified != 11 || rep.Entries != 11 || rep.Checkpoints != 1 || rep.Covered != 6 {
					t.Fatalf("clean log: %+v, %v", rep, err)
				}
				if _, head := l.Head(); rep.Head != head {
					t.Fatalf("verified head %x, log head %x", rep.Head, head)
				}
				return
			}
			if !errors.Is(err, ErrTampered) || rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v, %v", rep, err)
			}
			if rep.Problem.Seq != tc.wantSeq || !strings.Contains(rep.Problem.What, tc.want) {
				t.Fatalf("problem %v; want entry %d with %q", rep.Problem, tc.wantSeq, tc.want)
			}
			if rep.Verified != tc.wantSeq-1 {
				t.Fatalf("verified range 1..%d; want 1..%d", rep.Verified, tc.wantSeq-1)
			}
		})
	}
}

// Entries after the latest checkpoint can be cut without a trace in the
// database; Close writes a final checkpoint so a cut after shutdown is caught,
// and New refuses to start on a log shorter than its checkpoint.
func TestTruncationAfterCheckpoint(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 8)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "DELETE FROM audit_log WHERE seq = 9")
	rep, err := e.verify(t, l)
	if !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Seq != 9 || rep.Verified != 8 {
		t.Fatalf("cut tail: %+v, %v", rep, err)
	}
	if _, err := New(context.Background(), e.db(), e.opts()); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("New on a cut log = %v, want refusal", err)
	}
}

// A checkpoint signed by another key, or edited after signing, is reported
// and not trusted; the chain still verifies.
func TestVerifyRejectsForgedCheckpoints(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 3)
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Another key with the same name: the attacker's own signer.
	skey, _, err := note.GenerateKey(rand.Reader, SignerName)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := note.NewSigner(skey)
	forged := Checkpoint{Size: 2, Head: cp.Head, Time: cp.Time}
	msg, err := signCheckpoint(forged, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := appendCheckpoint(e.opts().CheckpointPath, msg); err != nil {
		t.Fatal(err)
	}
	// A genuine note whose size was edited after signing.
	good, _ := signCheckpoint(Checkpoint{Size: 4, Head: cp.Head, Time: cp.Time}, l.signer)
	edited := strings.Replace(string(good), "\n4\n", "\n400\n", 1)
	if err := appendCheckpoint(e.opts().CheckpointPath, []byte(edited)); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, l)
	if !errors.Is(err, ErrTampered) || len(rep.BadCheckpoints) != 2 || rep.Problem != nil {
		t.Fatalf("forged checkpoints: %+v, %v", rep, err)
	}
	if rep.BadCheckpoints[0].Checkpoint != 2 || rep.BadCheckpoints[1].Checkpoint != 3 || rep.Checkpoints != 1 || rep.Covered != 4 {
		t.Fatalf("bad checkpoints %+v; covered %d", rep.BadCheckpoints, rep.Covered)
	}
	if !strings.Contains(rep.BadCheckpoints[1].What, "signature") {
		t.Fatalf("edited checkpoint reported as %q", rep.BadCheckpoints[1].What)
	}
}

// A torn checkpoint write (a crash mid-append) is reported, but neither
// stops the server nor hides the checkpoints written after it.
func TestTornCheckpointFile(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(e.opts().CheckpointPath)
	f, err := os.OpenFile(e.opts().CheckpointPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(good[:len(good)/2]) // half a note, as a power cut leaves it
	f.Close()
	l.Close()
	l2 := e.open(t) // starts despite the torn tail
	e.record(t, l2, 3)
	if _, err := l2.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, l2)
	if !errors.Is(err, ErrTampered) || len(rep.BadCheckpoints) != 1 || rep.Problem != nil {
		t.Fatalf("torn file: %+v, %v", rep, err)
	}
	if rep.Checkpoints != 2 || rep.Covered != 5 || !strings.Contains(rep.BadCheckpoints[0].What, "line ") {
		t.Fatalf("the checkpoint after the torn region was lost: %+v", rep)
	}
	// And truncation is still caught through it.
	e.exec(t, "DELETE FROM audit_log WHERE seq > 3")
	if rep, _ := e.verify(t, l2); rep.Problem == nil || rep.Problem.Seq != 4 {
		t.Fatalf("truncation after a torn region: %+v", rep.Problem)
	}
}

func TestVerifyEmptyAndWrongKey(t *testing.T) {
	e := newEnv(t)
	rep, err := Verify(context.Background(), e.db(), nil, mustVerifierKey(t))
	if err != nil || !rep.OK() || rep.Verified != 0 {
		t.Fatalf("empty log: %+v, %v", rep, err)
	}
	if _, err := Verify(context.Background(), e.db(), nil, "not a key"); err == nil || errors.Is(err, ErrTampered) {
		t.Fatalf("bad verifier key = %v", err)
	}
	// Every checkpoint fails under someone else's key.
	l := e.open(t)
	l.Checkpoint(context.Background())
	raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
	rep, err = Verify(context.Background(), e.db(), raw, mustVerifierKey(t))
	if !errors.Is(err, ErrTampered) || len(rep.BadCheckpoints) != 1 {
		t.Fatalf("foreign key: %+v, %v", rep, err)
	}
}

func mustVerifierKey(t *testing.T) string {
	_, v, err := note.GenerateKey(rand.Reader, SignerName)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
