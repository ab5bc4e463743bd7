package audit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// latestCheckpoint returns the last checkpoint in the file, verified.
func latestCheckpoint(t *testing.T, e *testEnv, l *Log) Checkpoint {
	t.Helper()
	raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
	notes, err := SplitNotes(raw)
	if err != nil || len(notes) == 0 {
		t.Fatalf("%d notes, %v", len(notes), err)
	}
	v, _ := note.NewVerifier(l.VerifierKey())
	cp, err := OpenCheckpoint(notes[len(notes)-1].Msg, v)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// The root the writer signs (from the stored tree) equals the root the
// verifier recomputes from the entries, at every size.
func TestTreeRootAtEverySize(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.CheckpointEvery = 1 })
	e.record(t, l, 20)
	rep, err := e.verify(t, l)
	if err != nil || rep.Checkpoints != 21 || rep.Covered != 21 {
		t.Fatalf("%+v, %v", rep, err)
	}
	if cp := latestCheckpoint(t, e, l); !cp.HasTree || cp.Tree == (Hash{}) {
		t.Fatalf("checkpoint without a tree root: %+v", cp)
	}
}

// Every entry has an inclusion proof against a checkpoint's root; a changed
// entry, another position or another root fails.
func TestInclusionProofs(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 12)
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !cp.HasTree {
		t.Fatal("no tree root")
	}
	var entries [][]byte
	rows, _ := e.db().QueryContext(context.Background(), "SELECT entry FROM audit_log ORDER BY seq")
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		entries = append(entries, b)
	}
	rows.Close()
	for i, entry := range entries {
		seq := int64(i + 1)
		p, err := ProveEntry(context.Background(), e.db(), seq, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckEntry(p, cp.Tree, entry); err != nil {
			t.Fatalf("entry %d: %v", seq, err)
		}
		other := entries[(i+1)%len(entries)]
		if err := CheckEntry(p, cp.Tree, other); err == nil {
			t.Fatalf("entry %d's proof accepted another entry", seq)
		}
		if err := CheckEntry(p, cp.Head, entry); !errors.Is(err, ErrTampered) {
			t.Fatalf("entry %d's proof accepted a wrong root: %v", seq, err)
		}
	}
	edited := []byte(strings.Replace(string(entries[3]), "user:u1", "user:u2", 1))
	p, _ := ProveEntry(context.Background(), e.db(), 4, cp.Size)
	if err := CheckEntry(p, cp.Tree, edited); !errors.Is(err, ErrTampered) {
		t.Fatalf("edited entry passed: %v", err)
	}
	if _, err := ProveEntry(context.Background(), e.db(), 14, cp.Size); err == nil {
		t.Fatal("proof for an entry beyond the size")
	}
}

// A later checkpoint provably extends an earlier one.
func TestExtensionProofs(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 4)
	old, _ := l.Checkpoint(context.Background())
	e.record(t, l, 9)
	cur, _ := l.Checkpoint(context.Background())
	p, err := ProveExtends(context.Background(), e.db(), old.Size, cur.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckExtends(p, old.Size, old.Tree, cur.Size, cur.Tree); err != nil {
		t.Fatal(err)
	}
	if err := CheckExtends(p, old.Size, cur.Tree, cur.Size, cur.Tree); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong old root accepted: %v", err)
	}
}

// A database whose entries predate the tree gets it built at start, and a
// damaged tree table shows up at the next checkpoint.
func TestTreeBackfillAndDamage(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 6)
	l.Close()
	e.exec(t, "DROP TRIGGER audit_tree_no_delete", "DELETE FROM audit_tree")
	l2 := e.open(t)
	e.record(t, l2, 1)
	if _, err := l2.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep, err := e.verify(t, l2); err != nil || rep.Covered != 9 {
		t.Fatalf("after backfill: %+v, %v", rep, err)
	}
	e.exec(t, "DROP TRIGGER audit_tree_no_update", "UPDATE audit_tree SET hash = zeroblob(32)")
	e.record(t, l2, 1)
	if _, err := l2.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, l2)
	if !errors.Is(err, ErrTampered) || rep.Problem == nil || rep.Problem.Seq != 10 || !strings.Contains(rep.Problem.What, "Merkle root") {
		t.Fatalf("damaged tree: %+v, %v", rep.Problem, err)
	}
}

func TestProofBundle(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 5)
	b, err := l.ProofBundle(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	en, err := CheckProofBundle(b, l.VerifierKey())
	if err != nil || en.Seq != 3 || en.Event.Action != "key.create" {
		t.Fatalf("%+v, %v", en, err)
	}
	// The bundle names nothing but its own entry.
	if !strings.Contains(string(b), "key:kb0") || strings.Contains(string(b), "key:ka0") || strings.Contains(string(b), "key:kc0") {
		t.Fatalf("bundle leaks other entries or lacks its own: %s", b)
	}
	for name, bad := range map[string]string{
		"edited entry": strings.Replace(string(b), "user:u1", "user:u9", 1),
		"other seq":    strings.Replace(string(b), `"seq":3`, `"seq":2`, 1),
		"forged note":  strings.Replace(string(b), `izwi/audit\n6`, `izwi/audit\n7`, 1),
	} {
		if _, err := CheckProofBundle([]byte(bad), l.VerifierKey()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := CheckProofBundle(b, mustVerifierKey(t)); !errors.Is(err, ErrTampered) {
		t.Errorf("another key: %v", err)
	}
}

// FuzzCheckProofBundle: the bundle parser never panics and accepts nothing
// without a valid signature.
func FuzzCheckProofBundle(f *testing.F) {
	e := newEnv(f)
	l := e.open(f)
	e.record(f, l, 3)
	b, _ := l.ProofBundle(context.Background(), 2)
	f.Add(b)
	f.Add([]byte(`{"seq":1,"entry":{},"checkpoint":"x","proof":[]}`))
	f.Add([]byte(`null`))
	vkey := l.VerifierKey()
	f.Fuzz(func(t *testing.T, in []byte) {
		en, err := CheckProofBundle(in, vkey)
		if err == nil && en.Seq < 1 {
			t.Fatalf("accepted %q", in)
		}
	})
}
