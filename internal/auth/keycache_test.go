package auth

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// twoProcesses opens the same database twice (separate connections, as
// `izwi serve` and `izwi keys` have) with one epoch file.
func twoProcesses(t *testing.T) (serve, cli *KeyStore, st *store.Store, clock *clocktest.Clock) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, epoch := storetest.Database(t), filepath.Join(dir, "izwi.db-keys-epoch")
	clock = clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	open := func() (*KeyStore, *store.Store) {
		s, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ks, err := NewKeyStore(ctx, s, KeyStoreConfig{Pepper: []byte(strings.Repeat("p", 32)), Audit: &audittest.Recorder{}, Now: clock.Now, EpochFile: epoch})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		return ks, s
	}
	serve, st = open()
	cli, _ = open()
	return serve, cli, st, clock
}

// A key revoked by another process is refused on the next request even
// though this process had it cached.
func TestCacheRevokedByAnotherProcess(t *testing.T) {
	serve, cli, _, _ := twoProcesses(t)
	ctx := context.Background()
	k, secret, err := cli.Create(ctx, Actor{ID: "cli"}, KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := serve.Verify(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := serve.cache.get(k.ID); !ok {
		t.Fatal("verified key not cached")
	}
	if err := cli.Revoke(ctx, Actor{ID: "cli"}, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.Verify(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked elsewhere, still accepted: %v", err)
	}
	// Rotation elsewhere likewise.
	k2, s2, _ := cli.Create(ctx, Actor{ID: "cli"}, KeySpec{Name: "b", Scopes: []Scope{ScopeASRRead}})
	if _, err := serve.Verify(ctx, s2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cli.Rotate(ctx, Actor{ID: "cli"}, k2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.Verify(ctx, s2); !errors.Is(err, ErrRevoked) {
		t.Fatalf("rotated elsewhere, still accepted: %v", err)
	}
}

// The cache is really used (a hit does not read the database), a wrong
// secret never hits, and an entry expires with the key.
func TestCacheHitsAndLimits(t *testing.T) {
	serve, _, st, clock := twoProcesses(t)
	ctx := context.Background()
	k, secret, _ := serve.Create(ctx, Actor{ID: "t"}, KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}, Expires: clock.Now().Add(10 * time.Second)})
	if _, err := serve.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	// Delete the row behind the cache's back (no epoch bump): a hit must
	// not notice, which shows it did not read the database.
	if _, err := st.ExecContext(context.Background(), `DELETE FROM auth_keys WHERE id = ?`, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.Verify(ctx, secret); err != nil {
		t.Fatalf("cache miss: %v", err)
	}
	if _, err := serve.Verify(ctx, FormatKey(k.ID, newKeySecret())); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong secret on a cached id: %v", err)
	}
	clock.Advance(10 * time.Second)
	if _, err := serve.Verify(ctx, secret); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired key from cache: %v", err)
	}
	// Any bump (a change anywhere) makes the next request read again.
	clock.Advance(-10 * time.Second)
	if err := serve.epoch.bump(); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.Verify(ctx, secret); err == nil {
		t.Fatal("deleted key accepted after an epoch change")
	}
}

// Entries are re-read after maxCacheAge even without a bump.
func TestCacheMaxAge(t *testing.T) {
	serve, _, st, clock := twoProcesses(t)
	ctx := context.Background()
	k, secret, _ := serve.Create(ctx, Actor{ID: "t"}, KeySpec{Name: "a", Scopes: []Scope{ScopeASRRead}})
	if _, err := serve.Verify(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ExecContext(context.Background(), `UPDATE auth_keys SET revoked_at = 1 WHERE id = ?`, k.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(maxCacheAge)
	if _, err := serve.Verify(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Fatalf("stale entry used past maxCacheAge: %v", err)
	}
}
