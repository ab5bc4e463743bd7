package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/captionfilter"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/wordfilter"
)

// The notices as serve wires them, between two "processes" on one bus and
// one database: caption settings set through one reach the other's cache;
// a revocation notice reaches the key store's OnRevoke; a malformed notice
// is ignored.
func TestNoticesBetweenProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	broker, err := bus.Start(ctx, bus.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	var revoked []string
	keys, err := auth.NewKeyStore(ctx, db, auth.KeyStoreConfig{Pepper: []byte(strings.Repeat("p", 32)), Audit: &audittest.Recorder{},
		OnRevoke: func(s string) { mu.Lock(); revoked = append(revoked, s); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := captionfilter.New(ctx, db, captionfilter.Options{
		Changed: func(id string) { broker.Notify(bus.NoticeCaptionSettings, []byte(id)) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := captionfilter.New(ctx, db, captionfilter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := listenNotices(ctx, broker, keys, b, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}

	caption := live.Event{Type: live.TypeCaption, SessionID: "ses_x", Final: true, Text: "monika"}
	if err := a.Set(ctx, "ses_x", captionfilter.Settings{Replace: []wordfilter.Rule{{Find: "monika", Replace: "Monica"}}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "b applies a's settings", func() bool { return b.Apply("ses_x", caption).Text == "Monica" })

	broker.Notify(bus.NoticeKeyRevoked, []byte("not a notice"))
	broker.Notify(bus.NoticeKeyRevoked, auth.RevocationNotice("abcdefghijkl", "key:mnopqrstuvwx"))
	waitUntil(t, "the revocation reaches OnRevoke", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(revoked) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(revoked) != 1 || revoked[0] != "key:mnopqrstuvwx" {
		t.Fatalf("OnRevoke got %q", revoked)
	}
}

// waitUntil polls cond until it holds, failing t after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
