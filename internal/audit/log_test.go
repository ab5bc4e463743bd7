package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/telemetry"
)

func TestRecordChainsFromGenesis(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 3)
	var seq int64
	var entry, prev, hash []byte
	if err := e.db().QueryRowContext(context.Background(), "SELECT seq, entry, prev, hash FROM audit_log WHERE seq = 1").Scan(&seq, &entry, &prev, &hash); err != nil {
		t.Fatal(err)
	}
	g := Genesis()
	if string(prev) != string(g[:]) {
		t.Fatalf("entry 1 links to %x, want genesis %x", prev, g)
	}
	if h := ChainHash(g, entry); string(hash) != string(h[:]) {
		t.Fatal("entry 1 hash is not SHA-256(genesis ‖ entry)")
	}
	en, err := Decode(entry)
	if err != nil || en.Event.Action != "audit.start" || en.Event.Actor != "system" {
		t.Fatalf("entry 1 = %+v, %v; want the audit.start entry", en, err)
	}
	if n, head := l.Head(); n != 4 || head == g {
		t.Fatalf("head %d %x", n, head)
	}
	rep, err := e.verify(t, l)
	if err != nil || rep.Verified != 4 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// A clock that jumps back does not make the log's time go backwards.
func TestTimeNeverGoesBackwards(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 1)
	before := readEntries(t, e)[1].Event.Time
	e.clock.Advance(-time.Hour)
	if err := l.Record(context.Background(), Event{Action: "user.login", Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	got := readEntries(t, e)[2].Event.Time
	if !got.Equal(before) {
		t.Fatalf("entry after a clock jump back has time %v, want it clamped to %v", got, before)
	}
	if rep, err := e.verify(t, l); err != nil {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// The database refuses UPDATE and DELETE on the log even with raw SQL.
func TestTriggersKeepLogAppendOnly(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 2)
	for _, q := range []string{"UPDATE audit_log SET entry = x'00' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2",
		"DELETE FROM audit_log", "UPDATE audit_tree SET hash = x'00'", "DELETE FROM audit_tree"} {
		if _, err := e.db().ExecContext(context.Background(), tamperSQL(q)); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want the append-only trigger to refuse", q, err)
		}
	}
	if storetest.Dialect() == store.Postgres { // TRUNCATE skips row triggers
		for _, q := range []string{"TRUNCATE audit_log", "TRUNCATE audit_tree"} {
			if _, err := e.db().ExecContext(context.Background(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s = %v, want the append-only trigger to refuse", q, err)
			}
		}
	}
	if rep, err := e.verify(t, l); err != nil || rep.Verified != 3 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// If the audit write fails, Record fails, so the caller fails the action.
func TestRecordFailsWhenDatabaseIsClosed(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.st.Close()
	err := l.Record(context.Background(), Event{Actor: "user:u1", Action: "key.revoke", Outcome: OutcomeOK})
	if err == nil {
		t.Fatal("Record on a closed database succeeded")
	}
	if n, _ := l.Head(); n != 1 {
		t.Fatalf("head moved to %d after a failed append", n)
	}
}

func TestRecordFailsAfterCloseAndOnBadEvents(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	for _, ev := range []Event{{Outcome: OutcomeOK}, {Action: "x"}, {Action: "x", Outcome: "maybe"}} {
		if err := l.Record(context.Background(), ev); err == nil {
			t.Errorf("Record(%+v) succeeded", ev)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), Event{Action: "x", Outcome: OutcomeOK}); err == nil {
		t.Fatal("Record after Close succeeded")
	}
}

func TestConcurrentRecordsStayChained(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.CheckpointEvery = 7 })
	var wg sync.WaitGroup
	errs := make(chan error, 8*25)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				errs <- l.Record(context.Background(), Event{Actor: "key:k" + itoa(g), Action: "auth.failure",
					Outcome: OutcomeDenied, Details: map[string]string{"i": itoa(i)}})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := e.verify(t, l)
	if err != nil || rep.Verified != 201 || rep.Checkpoints < 28 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// Two Log values on one database (as `izwi serve` and an `izwi audit`
// command in another process) interleave without forking the chain. Each
// anchors its entries as it writes them (the default checkpoint_every = 1),
// so the second finds nothing unanchored when it opens.
func TestTwoWritersShareOneChain(t *testing.T) {
	e := newEnv(t)
	every := func(o *Options) { o.CheckpointEvery = 1 }
	a := e.open(t, every)
	b := e.open(t, every)
	for i := range 10 {
		w := a
		if i%3 == 0 {
			w = b
		}
		if err := w.Record(context.Background(), Event{Action: "key.create", Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, a)
	if err != nil || rep.Verified != 12 || rep.Covered != 12 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

func TestCheckpointEveryNEntries(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.CheckpointEvery = 5 })
	e.record(t, l, 9) // 10 entries with audit.start
	raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
	notes, err := SplitNotes(raw)
	if err != nil || len(notes) != 2 {
		t.Fatalf("%d checkpoints, %v; want 2", len(notes), err)
	}
	rep, err := e.verify(t, l)
	if err != nil || rep.Covered != 10 {
		t.Fatalf("%+v, %v", rep, err)
	}
	st, err := os.Stat(e.opts().CheckpointPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint file mode %v, %v", st.Mode().Perm(), err)
	}
}

// The timers append heartbeats and write checkpoints on their own.
func TestTimersWriteHeartbeatsAndCheckpoints(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) {
		o.HeartbeatInterval = 5 * time.Millisecond
		o.CheckpointInterval = 5 * time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var beats int
		if err := e.db().QueryRowContext(context.Background(), tamperSQL(`SELECT count(*) FROM audit_log WHERE CAST(entry AS TEXT) LIKE '%"audit.heartbeat"%'`)).Scan(&beats); err != nil {
			t.Fatal(err)
		}
		raw, _ := ReadCheckpoints(e.opts().CheckpointPath)
		if beats >= 2 && len(raw) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %d heartbeats, %d bytes of checkpoints", beats, len(raw))
		}
		time.Sleep(2 * time.Millisecond) // poll interval, bounded by the deadline
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := e.verify(t, l)
	if err != nil || rep.Covered != rep.Verified {
		t.Fatalf("after Close the last checkpoint covers %d of %d: %v", rep.Covered, rep.Verified, err)
	}
}

func TestKeyFiles(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	o := e.opts()
	for _, p := range []string{o.SignerKeyPath, o.PseudonymKeyPath} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", p, st.Mode().Perm(), err)
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(l.VerifierKey(), strings.TrimSpace(string(b))) {
			t.Fatal("verifier key contains a secret")
		}
	}
	v, err := ReadVerifierKey(o.SignerKeyPath + ".pub")
	if err != nil || v != l.VerifierKey() {
		t.Fatalf("pub key %q, %v", v, err)
	}
	l.Close()
	// The same keys come back on reopen.
	l2 := e.open(t)
	if l2.VerifierKey() != v {
		t.Fatal("reopen made a new signer key")
	}
	l2.Close()
	// A key file others can read is refused.
	os.Chmod(o.SignerKeyPath, 0o644)
	if _, err := New(context.Background(), e.db(), o); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("world-readable signer key: %v", err)
	}
}

func TestRemoteIPIsPseudonymous(t *testing.T) {
	key1, key2 := make([]byte, 32), make([]byte, 32)
	key2[0] = 1
	a := pseudonymizeIP(key1, "203.0.113.7")
	if !strings.HasPrefix(a, "203.0.113.0/24 ip:") || strings.Contains(a, "203.0.113.7") {
		t.Fatalf("pseudonym %q", a)
	}
	if pseudonymizeIP(key1, "203.0.113.7:5555") != a || pseudonymizeIP(key1, "::ffff:203.0.113.7") != a {
		t.Fatal("one address, two pseudonyms")
	}
	if pseudonymizeIP(key1, "203.0.113.8") == a || pseudonymizeIP(key2, "203.0.113.7") == a {
		t.Fatal("pseudonyms collide")
	}
	if v6 := pseudonymizeIP(key1, "2001:db8:1:2::1"); !strings.HasPrefix(v6, "2001:db8:1::/48 ip:") {
		t.Fatalf("ipv6 pseudonym %q", v6)
	}
	if pseudonymizeIP(key1, "alice@example.com") != "invalid" || pseudonymizeIP(key1, "") != "" {
		t.Fatal("non-addresses must not be stored")
	}
	// Through Record: the raw address never reaches the database.
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 1)
	var n int
	e.db().QueryRowContext(context.Background(), tamperSQL(`SELECT count(*) FROM audit_log WHERE CAST(entry AS TEXT) LIKE '%203.0.113.7%'`)).Scan(&n)
	if n != 0 {
		t.Fatal("raw remote IP stored in the audit log")
	}
}

func TestNormalizeClipsAndCleans(t *testing.T) {
	long := strings.Repeat("é", 500)
	details := map[string]string{}
	for i := range 40 {
		details[itoa(i)] = long
	}
	ev, err := normalize(Event{Action: long, Outcome: OutcomeError, Target: "bad\xffutf8", Details: details})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Action) > maxField || !strings.HasSuffix(ev.Action, truncatedMark) || ev.Actor != "anonymous" {
		t.Fatalf("action %d bytes, actor %q", len(ev.Action), ev.Actor)
	}
	if ev.Target != "bad\uFFFDutf8" || len(ev.Details) > maxDetails+1 || ev.Details["truncated"] != "true" {
		t.Fatalf("target %q, %d details", ev.Target, len(ev.Details))
	}
	if _, err := Encode(Entry{Seq: 1, Event: ev}); err == nil {
		t.Fatal("zero time encoded")
	}
	ev.Time = time.Now()
	if _, err := Encode(Entry{Seq: 1, Event: ev}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesSwappedDatabase(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 3)
	l.Close()
	en := readEntries(t, e)
	en[1].Event.Actor = "user:other"
	rewriteChain(t, e, en)
	_, err := New(context.Background(), e.db(), e.opts())
	if err == nil || !strings.Contains(err.Error(), "differs from checkpoint") {
		t.Fatalf("New on a rewritten log = %v", err)
	}
	if errors.Is(err, ErrTampered) {
		t.Fatal("New reports, Verify classifies")
	}
}

// Each checkpoint is also logged as a signed note; the notes taken back out
// of the JSON log form a checkpoint file that verifies.
func TestCheckpointsAreLoggedAsNotes(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	l := e.open(t, func(o *Options) { o.Logger = telemetry.NewLogger(&logs, slog.LevelInfo) })
	e.record(t, l, 2)
	l.Checkpoint(context.Background())
	e.record(t, l, 2)
	l.Checkpoint(context.Background())
	var file []byte
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		var rec struct{ Checkpoint string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Checkpoint != "" {
			file = append(append(file, rec.Checkpoint...), '\n') // what jq -r prints
		}
	}
	rep, err := acceptUnanchored(Verify(context.Background(), e.db(), file, l.VerifierKey()))
	if err != nil || rep.Checkpoints != 2 || rep.Covered != 5 {
		t.Fatalf("checkpoints from the log: %+v, %v\n%s", rep, err, logs.String())
	}
}

// Destroying the pseudonym key (crypto-shredding the remote addresses)
// leaves the chain verifiable, and addresses recorded afterwards get
// pseudonyms that cannot be linked to the old ones.
func TestShreddingPseudonymKeyKeepsVerification(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 2)
	before := readEntries(t, e)[1].Event.RemoteIP
	l.Close()
	if err := os.Remove(e.opts().PseudonymKeyPath); err != nil {
		t.Fatal(err)
	}
	l2 := e.open(t)
	e.record(t, l2, 1)
	after := readEntries(t, e)[4].Event.RemoteIP
	if before == after || before[:strings.Index(before, " ")] != after[:strings.Index(after, " ")] {
		t.Fatalf("pseudonyms before %q and after %q shredding", before, after)
	}
	if rep, err := e.verify(t, l2); err != nil || rep.Verified != 5 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, func(o *Options) { o.CheckpointEvery = 3 })
	e.record(t, l, 3) // 4 entries; a checkpoint at 3
	s := l.Stats()
	if s.Entries != 4 || s.Unsealed != 1 || !s.LastCheckpoint.Equal(e.clock.Now().Add(-time.Second)) || s.AppendFailures != 0 {
		t.Fatalf("%+v", s)
	}
	// Checkpoints that cannot be written are counted; the entries stand.
	os.Remove(e.opts().CheckpointPath)
	os.Mkdir(e.opts().CheckpointPath, 0o700) // a directory cannot be appended to: entries 6 and 7 each retry and fail
	e.record(t, l, 3)
	e.st.Close()
	l.Record(context.Background(), Event{Action: "x", Outcome: OutcomeOK})
	if s := l.Stats(); s.Entries != 7 || s.CheckpointFailures != 2 || s.AppendFailures != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestPseudonymLookup(t *testing.T) {
	e := newEnv(t)
	l := e.open(t)
	e.record(t, l, 1)
	stored := readEntries(t, e)[1].Event.RemoteIP
	got, err := Pseudonym(e.opts().PseudonymKeyPath, "203.0.113.7")
	if err != nil || got != stored {
		t.Fatalf("Pseudonym = %q, %v; the log stored %q", got, err, stored)
	}
	if _, err := Pseudonym(e.opts().PseudonymKeyPath, "not-an-ip"); err == nil {
		t.Fatal("pseudonym of a non-address")
	}
	missing := filepath.Join(t.TempDir(), "none")
	if _, err := Pseudonym(missing, "203.0.113.7"); err == nil {
		t.Fatal("Pseudonym made up a key")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("Pseudonym created a key file")
	}
}
