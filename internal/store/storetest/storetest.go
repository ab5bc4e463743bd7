// Package storetest owns how a package's tests run against both of the
// store's dialects: Main runs the package's tests on SQLite, then runs them
// (or the named subset) again on a private PostgreSQL (package pgtest);
// Database and Open hand each test a fresh database of the pass's dialect.
// A component's tests written against Database/Open are its store
// conformance suite. Only tests import it.
package storetest

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// dialect is the current pass's: SQLite first, PostgreSQL second.
var dialect = store.SQLite

// Postgres narrows the PostgreSQL pass to the tests that exercise the
// store: Run and Skip are -run and -skip patterns ("" for none). Tests
// that read SQLite's file itself (secure_delete, WAL checkpoints) belong in
// Skip.
type Postgres struct{ Run, Skip string }

// Main runs the package's tests on SQLite, then, if they passed, again on
// a private PostgreSQL (narrowed by pg; a -run or -skip given on the
// command line wins), and returns the exit code. Call it from TestMain:
// os.Exit(storetest.Main(m, storetest.Postgres{})).
func Main(m *testing.M, pg Postgres) int {
	defer pgtest.Stop()
	code := m.Run()
	if code != 0 {
		return code
	}
	for name, v := range map[string]string{"test.run": pg.Run, "test.skip": pg.Skip} {
		if f := flag.Lookup(name); f != nil && v != "" && f.Value.String() == "" {
			f.Value.Set(v)
		}
	}
	fmt.Println("=== storetest: the store's tests again, on PostgreSQL")
	dialect = store.Postgres
	return m.Run()
}

// Dialect is the dialect of the current pass.
func Dialect() store.Dialect { return dialect }

// Database returns a fresh database for t in the current pass's dialect:
// a SQLite file path under t.TempDir(), or a PostgreSQL DSN.
func Database(t testing.TB) string {
	t.Helper()
	return DatabaseOf(t, dialect)
}

// DatabaseOf is Database for a given dialect.
func DatabaseOf(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.Postgres {
		return pgtest.DSN(t)
	}
	return filepath.Join(t.TempDir(), "izwi.db")
}

// Open opens a fresh store for t in the current pass's dialect, closed
// when t ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	return OpenOf(t, dialect)
}

// OpenOf is Open for a given dialect.
func OpenOf(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), DatabaseOf(t, d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
