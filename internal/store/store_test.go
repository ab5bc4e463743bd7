package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenMigrateReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "izwi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx, coreComponent)
	if err != nil || v != len(coreMigrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(coreMigrations))
	}
	if err := s.SetMeta(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
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

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "izwi.db")
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

func TestComponentMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "izwi.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v1 := []string{"CREATE TABLE widgets (id INTEGER PRIMARY KEY)"}
	if err := s.Migrate(ctx, "widgets", v1); err != nil {
		t.Fatal(err)
	}
	// A failing migration rolls back and records nothing.
	bad := append(v1, "CREATE TABLE widgets (oops)")
	if err := s.Migrate(ctx, "widgets", bad); err == nil {
		t.Fatal("bad migration succeeded")
	}
	if v, _ := s.SchemaVersion(ctx, "widgets"); v != 1 {
		t.Fatalf("widgets version %d after failed migration, want 1", v)
	}
	v2 := append(v1, "ALTER TABLE widgets ADD COLUMN name TEXT")
	if err := s.Migrate(ctx, "widgets", v2); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, "widgets", v2); err != nil {
		t.Fatalf("re-running applied migrations: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, "INSERT INTO widgets(name) VALUES('x')"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx, "widgets", v1); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older binary on newer schema = %v, want refusal", err)
	}
	// Components are independent.
	if v, _ := s.SchemaVersion(ctx, coreComponent); v != len(coreMigrations) {
		t.Fatalf("store version %d", v)
	}
	s.Close()
}

// Strings reads every row and releases the one connection, so a caller can
// use the store again for each value.
func TestStrings(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "s.db"))
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
