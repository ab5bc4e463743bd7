package auth

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
)

// A key revoked by another process reaches this process's OnRevoke on the
// next poll, once.
func TestWatchRevocationsFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, epoch := storetest.Database(t), filepath.Join(dir, "epoch")
	clock := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var seen []string
	open := func(onRevoke func(string)) *KeyStore {
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		ks, err := NewKeyStore(ctx, st, KeyStoreConfig{Pepper: []byte(strings.Repeat("p", 32)), Audit: &audittest.Recorder{},
			Now: clock.Now, EpochFile: epoch, OnRevoke: onRevoke})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		return ks
	}
	serve := open(func(s string) { seen = append(seen, s) })
	cli := open(nil)
	w := newRevocationWatch(serve)
	k, _, _ := cli.Create(ctx, Actor{ID: "cli"}, KeySpec{Name: "a", Scopes: []Scope{ScopeLiveRead}})
	if err := w.poll(ctx); err != nil || len(seen) != 0 {
		t.Fatalf("creation reported as revocation: %v %v", seen, err)
	}
	clock.Advance(2 * time.Second)
	if err := cli.Revoke(ctx, Actor{ID: "cli"}, k.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if err := w.poll(ctx); err != nil || len(seen) != 1 || seen[0] != k.Subject() {
		t.Fatalf("after revoke elsewhere: %v %v", seen, err)
	}
	if err := w.poll(ctx); err != nil || len(seen) != 1 {
		t.Fatalf("reported again without a change: %v", seen)
	}
	// The loop itself stops with its context.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serve.WatchRevocations(cctx, time.Hour) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
