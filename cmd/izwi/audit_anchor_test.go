package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// With the checkpoint file deleted, `izwi audit verify` fails (it said OK
// before), --allow-no-checkpoints accepts it loudly, and a tool that would
// extend the log refuses until `izwi audit checkpoint --accept-unanchored`.
func TestAuditVerifyNeedsCheckpoints(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := config.Config{Data: config.Data{Dir: dir}}.Defaults()
	st, err := store.Open(ctx, cfg.Data.Database)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(ctx, st, cfg.Audit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, audit.Event{Actor: "user:u1", Action: "key.create", Outcome: audit.OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, _, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir); code != exitOK {
		t.Fatalf("a clean log: %d %s", code, stderr)
	}
	if err := os.Remove(cfg.Audit.CheckpointPath); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir)
	if code != exitFailure || !strings.Contains(stderr, "no valid signed checkpoint") {
		t.Fatalf("verify without checkpoints: %d %s", code, stderr)
	}
	code, _, stderr = runInProcess(t, "audit", "verify", "--data-dir", dir, "--allow-no-checkpoints")
	if code != exitOK || !strings.Contains(stderr, "WARNING: ACCEPTED BY FLAG, NOT VERIFIED") {
		t.Fatalf("verify --allow-no-checkpoints: %d %s", code, stderr)
	}
	if code, _, stderr := runInProcess(t, "audit", "checkpoint", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, "not covered by a signed checkpoint") {
		t.Fatalf("checkpoint over an unanchored log: %d %s", code, stderr)
	}
	if code, _, stderr := runInProcess(t, "audit", "checkpoint", "--data-dir", dir, "--accept-unanchored"); code != exitOK || !strings.Contains(stderr, "WARNING") {
		t.Fatalf("checkpoint --accept-unanchored: %d %s", code, stderr)
	}
	if code, _, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir); code != exitOK {
		t.Fatalf("after accepting: %d %s", code, stderr)
	}
}
