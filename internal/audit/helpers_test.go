package audit

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 23, 2, 0, 0, 123456789, time.UTC))
}

// testEnv is one temporary database with its audit files.
type testEnv struct {
	dir      string
	st       *store.Store
	database string // st's path or DSN, for a second process's store
	clock    *clocktest.Clock
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	dir := t.TempDir()
	database := storetest.Database(t)
	st, err := store.Open(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := Migrate(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return &testEnv{dir: dir, st: st, database: database, clock: newFakeClock()}
}

func (e *testEnv) db() *store.Store { return e.st }

func (e *testEnv) opts() Options {
	return Options{
		CheckpointPath:   filepath.Join(e.dir, "audit", "checkpoints"),
		SignerKeyPath:    filepath.Join(e.dir, "audit", "signer.key"),
		PseudonymKeyPath: filepath.Join(e.dir, "audit", "pseudonym.key"),
		Now:              e.clock.Now,
	}
}

// open opens a Log with no timers and no count-based checkpoints unless
// mod changes them.
func (e *testEnv) open(t testing.TB, mod ...func(*Options)) *Log {
	t.Helper()
	o := e.opts()
	for _, m := range mod {
		m(&o)
	}
	l, err := New(context.Background(), e.db(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// record appends n distinct events, advancing the clock by a second each.
func (e *testEnv) record(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := range n {
		e.clock.Advance(time.Second)
		err := l.Record(context.Background(), Event{Actor: "user:u1", Action: "key.create",
			Target: "key:k" + itoa(i), Outcome: OutcomeOK, RemoteIP: "203.0.113.7", RequestID: "req-" + itoa(i),
			Details: map[string]string{"scopes": "asr.read"}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string { return string(rune('a'+i%26)) + string(rune('0'+i/26%10)) }

// verify runs Verify with the log's own key and checkpoint file, as on a
// running server: a tail (or a whole log) that no checkpoint covers yet is
// accepted, as --allow-unanchored-tail and --allow-no-checkpoints do
// (anchor_test.go tests those findings themselves).
func (e *testEnv) verify(t testing.TB, l *Log) (Report, error) {
	t.Helper()
	raw, err := ReadCheckpoints(e.opts().CheckpointPath)
	if err != nil {
		t.Fatal(err)
	}
	return acceptUnanchored(Verify(context.Background(), e.db(), raw, l.VerifierKey()))
}

func acceptUnanchored(rep Report, err error) (Report, error) {
	if rep.OKAccepting(KindUnanchored, KindNoCheckpoints) && rep.Problem != nil {
		rep.Problem, err = nil, nil
	}
	return rep, err
}

// exec runs SQL that tampers with the log, dropping the append-only
// triggers first as an attacker with file access would.
func (e *testEnv) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range append([]string{"DROP TRIGGER IF EXISTS audit_log_no_update",
		"DROP TRIGGER IF EXISTS audit_log_no_delete"}, stmts...) {
		if _, err := e.db().ExecContext(context.Background(), tamperSQL(s)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// tamperSQL turns the SQLite spelling of a tampering statement into the
// current pass's dialect: PostgreSQL names a trigger's table, has no
// zeroblob or x'..' literals, and converts bytea to text explicitly.
func tamperSQL(q string) string {
	if storetest.Dialect() != store.Postgres {
		return q
	}
	q = dropTrigger.ReplaceAllString(q, "DROP TRIGGER ${1}${2}_no_${3} ON ${2}")
	q = zeroblob.ReplaceAllString(q, "decode(repeat('00', $1), 'hex')")
	q = blobLit.ReplaceAllString(q, "decode('$1', 'hex')")
	q = castBlob.ReplaceAllString(q, "convert_to($1, 'UTF8')")
	return strings.ReplaceAll(q, "CAST(entry AS TEXT)", "convert_from(entry, 'UTF8')")
}

var (
	dropTrigger = regexp.MustCompile(`DROP TRIGGER (IF EXISTS )?(audit_log|audit_tree)_no_(update|delete)`)
	zeroblob    = regexp.MustCompile(`zeroblob\((\d+)\)`)
	blobLit     = regexp.MustCompile(`x'([0-9a-f]*)'`)
	castBlob    = regexp.MustCompile(`CAST\((replace\(.*\)) AS BLOB\)`)
)
