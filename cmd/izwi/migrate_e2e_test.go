package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/pgtest"
)

// izwi migrate copies a SQLite data directory's database into PostgreSQL:
// afterwards the audit chain verifies there, the vault opens what it sealed
// before, a key made before authenticates against izwi serve on
// PostgreSQL, and a second migrate into the now non-empty target is
// refused without touching it.
func TestMigrateSQLiteToPostgres(t *testing.T) {
	dir := t.TempDir()
	env := keysEnv(dir)
	key := newKey(t, env, "--name", "captions", "--scopes", "asr.read")
	// izwi serve makes every component's tables: the copy must know them all.
	if s := startServe(t, env); s.stop(t) != exitOK {
		t.Fatalf("serve on SQLite\n%s", s.logs)
	}
	_, db, alog, kr := openPrivacyWiring(t, dir)
	blob, err := kr.Seal(context.Background(), "consent", "consent:1", []byte("signed"))
	if err != nil {
		t.Fatal(err)
	}
	alog.Close()
	db.Close()

	dsn := pgtest.DSN(t)
	dsnFile := filepath.Join(t.TempDir(), "database")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "migrate", "--to-file", dsnFile)
	if r.code != exitOK || !strings.Contains(r.stdout, "copied ") || !strings.Contains(r.stdout, "vault_keys") {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "migrate", "--to", dsn); r.code != exitFailure || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	pg := append(keysEnv(dir), "IZWI_DATABASE="+dsn)
	if r := run(t, pg, "audit", "verify"); r.code != exitOK {
		t.Fatalf("audit verify on PostgreSQL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if exp := run(t, pg, "audit", "export"); !strings.Contains(exp.stdout, "\tkey.create\t") || !strings.Contains(exp.stdout, "\tstore.migrate\t") {
		t.Fatalf("audit export on PostgreSQL lacks key.create or store.migrate:\n%s", exp.stdout)
	}

	ctx := context.Background()
	cfg := config.Config{Data: config.Data{Dir: dir, Database: dsn}}.Defaults()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logger, _ := newLogger(&bytes.Buffer{}, "error")
	plog, err := openAuditTool(ctx, st, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer plog.Close()
	pkr, err := openVault(ctx, cfg, st, plog, logger)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pkr.Open(ctx, "consent", "consent:1", blob); err != nil || string(got) != "signed" {
		t.Fatalf("opening a blob sealed before the migration: %q, %v", got, err)
	}

	s := startServe(t, pg)
	if status, code := call(t, s.url+"/v1/usage", key); status != http.StatusOK {
		t.Fatalf("a key made before the migration: %d %q", status, code)
	}
	if code := s.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, s.logs)
	}
}
