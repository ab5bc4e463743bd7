package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// txAudit records inside the caller's transaction, or fails.
type txAudit struct {
	audittest.Recorder
	failTx bool
	inTx   int
}

func (a *txAudit) RecordTx(ctx context.Context, tx *store.Tx, e audit.Event) error {
	if a.failTx {
		return errors.New("audit: chain broken")
	}
	a.inTx++
	return a.Record(ctx, e)
}

// With a transactional recorder, a change and its audit entry commit
// together: a failed entry rolls the change back.
func TestChangeAuditedInSameTransaction(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &txAudit{}
	ks, err := NewKeyStore(ctx, st, KeyStoreConfig{Pepper: []byte(strings.Repeat("x", 32)), Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	if err != nil || rec.inTx != 1 {
		t.Fatalf("create: %v, %d entries in the transaction", err, rec.inTx)
	}
	rec.failTx = true
	if _, _, err := ks.Create(ctx, cli(), KeySpec{Name: "b", Scopes: []Scope{ScopeASRRead}}); err == nil {
		t.Fatal("created without an audit entry")
	}
	if _, _, err := ks.Rotate(ctx, cli(), k.ID); err == nil {
		t.Fatal("rotated without an audit entry")
	}
	if err := ks.Revoke(ctx, cli(), k.ID); err == nil {
		t.Fatal("revoked without an audit entry")
	}
	if keys, _ := ks.List(ctx); len(keys) != 1 {
		t.Fatalf("%d keys after refused changes", len(keys))
	}
	if _, err := ks.Verify(ctx, secret); err != nil {
		t.Fatalf("key changed by a refused revoke or rotate: %v", err)
	}
}

// Against the real audit log: key changes land in the hash chain, which
// still verifies.
func TestRealAuditLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Config{Data: config.Data{Dir: dir}}.Defaults()
	log, err := audit.Open(ctx, st, cfg.Audit, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	ks, err := NewKeyStore(ctx, st, KeyStoreConfig{Pepper: []byte(strings.Repeat("x", 32)), Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if ks.txAudit == nil {
		t.Fatal("audit.Log is not used transactionally")
	}
	k, secret, err := ks.Create(ctx, cli(), KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Rotate(ctx, cli(), k.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("%d audit entries", n)
	}
	var blob string
	rows, _ := st.QueryContext(context.Background(), `SELECT * FROM audit_log`)
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		_ = rows.Scan(ptrs...)
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				blob += string(b)
			} else if s, ok := v.(string); ok {
				blob += s
			}
		}
	}
	rows.Close()
	if strings.Contains(blob, secret[17:]) {
		t.Fatal("audit log holds the key secret")
	}
}
