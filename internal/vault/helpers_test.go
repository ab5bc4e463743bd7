package vault

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// The package's tests are its store conformance suite: they run on SQLite,
// then on PostgreSQL.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Check(storetest.Main(m, storetest.Postgres{
		// These read SQLite's file and write-ahead log themselves.
		Skip: "TestShreddedUnreadableWithMasterKey|TestRestoredBackupStaysShredded",
	}), "internal/vault"))
}

// txRecorder is an in-memory TxRecorder. It records eagerly (it cannot see
// the caller's commit); tests about rollbacks check the database instead.
type txRecorder struct {
	mu     sync.Mutex
	events []audit.Event
	fail   bool
}

func (r *txRecorder) RecordTx(_ context.Context, _ *store.Tx, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return os.ErrPermission
	}
	r.events = append(r.events, e)
	return nil
}

func (r *txRecorder) find(action string) []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Event
	for _, e := range r.events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

type rig struct {
	dir  string
	db   string
	list string // shred list
	st   *store.Store
	prov *FileProvider
	rec  *txRecorder
	k    *Keyring
}

// newRig opens a fresh database and a file-provider keyring in a temp dir.
func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{dir: dir, db: storetest.Database(t), rec: &txRecorder{}, list: filepath.Join(dir, "vault", "shredded.list"),
		prov: &FileProvider{Path: filepath.Join(dir, "vault", "master.key")}}
	r.open(t)
	return r
}

func (r *rig) open(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	k, err := New(ctx, Options{Store: st, Provider: r.prov, Audit: r.rec, ShredListPath: r.list})
	if err != nil {
		t.Fatal(err)
	}
	r.k = k
}

// fileHits counts occurrences of needle in the database, its WAL and its
// shared-memory file.
func fileHits(t *testing.T, dbPath string, needle []byte) int {
	t.Helper()
	n := 0
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		b, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		n += bytes.Count(b, needle)
	}
	return n
}

// openStore opens dbPath and closes it when the test ends.
func openStore(t *testing.T, dbPath string) (*store.Store, error) {
	t.Helper()
	st, err := store.Open(context.Background(), dbPath)
	if err == nil {
		t.Cleanup(func() { st.Close() })
	}
	return st, err
}
