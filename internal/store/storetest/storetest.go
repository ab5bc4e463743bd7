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

// Main runs the package's tests on SQLite, then, if they passed, the tests
// matching postgres (a -run pattern; "" for all) on PostgreSQL. A -run
// given on the command line narrows both passes. Call it from TestMain:
// os.Exit(storetest.Main(m, "")).
func Main(m *testing.M, postgres string) int {
	defer pgtest.Stop()
	code := m.Run()
	if code != 0 {
		return code
	}
	if postgres != "" {
		f := flag.Lookup("test.run")
		if f.Value.String() == "" {
			f.Value.Set(postgres)
		}
	}
	fmt.Println("=== storetest: the same tests on PostgreSQL")
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
