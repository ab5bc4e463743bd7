package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

func TestOpenMigrateReopen(t *testing.T) { eachDialect(t, testOpenMigrateReopen) }

func testOpenMigrateReopen(t *testing.T, db func(name string) string) {
	ctx := context.Background()
	path := db("sub/izwi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx, coreComponent)
	if err != nil || v != len(coreMigrations.SQLite) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(coreMigrations.SQLite))
	}
	if err := s.SetMeta(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if !IsDSN(path) {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("database mode %v, want 0600", st.Mode().Perm())
		}
	}
	// Reopening applies nothing twice and keeps data.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, _ := s.Meta(ctx, "k"); got != "v2" {
		t.Fatalf("meta k = %q, want v2", got)
	}
	if got, err := s.Meta(ctx, "absent"); got != "" || err != nil {
		t.Fatalf("absent key = %q, %v", got, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) { eachDialect(t, testRefusesNewerSchema) }

func testRefusesNewerSchema(t *testing.T, db func(name string) string) {
	ctx := context.Background()
	path := db("izwi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO schema_migrations(component, version) VALUES('store', 999)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a newer schema = %v, want refusal", err)
	}
}

func TestComponentMigrations(t *testing.T) { eachDialect(t, testComponentMigrations) }

func testComponentMigrations(t *testing.T, db func(name string) string) {
	ctx := context.Background()
	path := db("izwi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := Same("CREATE TABLE widgets (id INTEGER PRIMARY KEY)")
	if err := s.Migrate(ctx, "widgets", v1); err != nil {
		t.Fatal(err)
	}
	// A failing migration rolls back and records nothing.
	bad := Same(append(v1.SQLite, "CREATE TABLE widgets (oops)")...)
	if err := s.Migrate(ctx, "widgets", bad); err == nil {
		t.Fatal("bad migration succeeded")
	}
	if v, _ := s.SchemaVersion(ctx, "widgets"); v != 1 {
		t.Fatalf("widgets version %d after failed migration, want 1", v)
	}
	v2 := Same(append(v1.SQLite, "ALTER TABLE widgets ADD COLUMN name TEXT")...)
	if err := s.Migrate(ctx, "widgets", v2); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, "widgets", v2); err != nil {
		t.Fatalf("re-running applied migrations: %v", err)
	}
	if _, err := s.ExecContext(ctx, "INSERT INTO widgets(id, name) VALUES(1, 'x')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, "widgets", v1); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older binary on newer schema = %v, want refusal", err)
	}
	// Components are independent.
	if v, _ := s.SchemaVersion(ctx, coreComponent); v != len(coreMigrations.SQLite) {
		t.Fatalf("store version %d", v)
	}
	s.Close()
}

// Strings reads every row and releases the one connection, so a caller can
// use the store again for each value.
func TestStrings(t *testing.T) { eachDialect(t, testStrings) }

func testStrings(t *testing.T, db func(name string) string) {
	ctx := context.Background()
	st, err := Open(ctx, db("s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, k := range []string{"b", "a", "c"} {
		if err := st.SetMeta(ctx, "k-"+k, k); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Strings(ctx, "SELECT value FROM meta WHERE key LIKE ? ORDER BY value", "k-%")
	if err != nil || strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("Strings = %v, %v", got, err)
	}
	for _, v := range got { // the connection is free again
		if _, err := st.Meta(ctx, "k-"+v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Strings(ctx, "SELECT nope FROM meta"); err == nil {
		t.Fatal("a bad query gave no error")
	}
}

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// eachDialect runs fn on SQLite and on PostgreSQL; db names a fresh
// database (a file under the test's directory, or a new PostgreSQL one).
func eachDialect(t *testing.T, fn func(t *testing.T, db func(name string) string)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, func(name string) string { return filepath.Join(dir, name) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		fn(t, func(string) string { return dsn })
	})
}

func TestRebind(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                                 "SELECT 1",
		"SELECT a FROM t WHERE b = ? AND c = ?":    "SELECT a FROM t WHERE b = $1 AND c = $2",
		"SELECT '?' || ? FROM t -- what?\nWHERE ?": "SELECT '?' || $1 FROM t -- what?\nWHERE $2",
		`SELECT "a?b", 'it''s ?', ?`:               `SELECT "a?b", 'it''s ?', $1`,
		"SELECT 'unterminated ?":                   "SELECT 'unterminated ?",
	} {
		if got := Postgres.rebind(q); got != want {
			t.Errorf("rebind(%q) = %q, want %q", q, got, want)
		}
		if got := SQLite.rebind(q); got != q {
			t.Errorf("SQLite rebind changed %q to %q", q, got)
		}
	}
}

// The DSN's password never reaches a message.
func TestRedact(t *testing.T) {
	for _, dsn := range []string{"postgres://u:s3cret@h/db", "postgres://u@h/db?password=s3cret&sslmode=disable"} {
		if got := redact(dsn); strings.Contains(got, "s3cret") {
			t.Errorf("redact(%q) = %q", dsn, got)
		}
	}
	_, err := Open(context.Background(), "postgres://u:s3cret@h:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open on a bad DSN = %v", err)
	}
}
