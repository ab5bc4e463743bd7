package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// runInProcess dispatches izwi args in this process and returns the exit
// code and output.
func runInProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	code := c.dispatch(t.Context(), args)
	return code, out.String(), errb.String()
}

func TestAuditCLI(t *testing.T) {
	dir := t.TempDir()
	// No database: verify fails without creating one.
	if code, _, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir); code != exitFailure || !strings.Contains(stderr, "no database") {
		t.Fatalf("verify without a database: %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "izwi.db")); err == nil {
		t.Fatal("verify created a database")
	}

	// A log as izwi serve leaves it.
	ctx := context.Background()
	cfg := config.Config{Data: config.Data{Dir: dir}}.Defaults()
	st, err := store.Open(ctx, cfg.Data.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := audit.Open(ctx, st, cfg.Audit, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"key.create", "user.login", "key.revoke"} {
		if err := l.Record(ctx, audit.Event{Actor: "user:u1", Action: a, Outcome: audit.OutcomeOK}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir)
	if code != exitOK || !strings.Contains(stdout, "verified:     1..4") || !strings.Contains(stdout, "covering 1..4") {
		t.Fatalf("verify: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runInProcess(t, "audit", "export", "--data-dir", dir, "--since", "2", "--jsonl")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"seq":3,"hash":"`) {
		t.Fatalf("export: %d\n%s", code, stdout)
	}
	code, stdout, stderr = runInProcess(t, "audit", "checkpoint", "--data-dir", dir)
	if code != exitOK || !strings.Contains(stdout, "checkpoint: 5 entries") {
		t.Fatalf("checkpoint: %d %s %s", code, stdout, stderr)
	}
	code, stdout, _ = runInProcess(t, "audit", "export", "--data-dir", dir, "--since", "4")
	if code != exitOK || !strings.Contains(stdout, "5\t") || !strings.Contains(stdout, "\tsystem\taudit.checkpoint\t") {
		t.Fatalf("text export: %d %q", code, stdout)
	}

	// An operator finds an address's entries through its pseudonym.
	if code, out, stderr := runInProcess(t, "audit", "pseudonym", "--data-dir", dir, "192.0.2.44"); code != exitOK || !strings.HasPrefix(out, "192.0.2.0/24 ip:") {
		t.Fatalf("pseudonym: %d %q %q", code, out, stderr)
	}

	// One entry proven to someone who sees nothing else.
	code, stdout, stderr = runInProcess(t, "audit", "prove", "--data-dir", dir, "3")
	bundle := filepath.Join(t.TempDir(), "proof.json")
	os.WriteFile(bundle, []byte(stdout), 0o600)
	if code != exitOK {
		t.Fatalf("prove: %d %s", code, stderr)
	}
	if code, out, stderr := runInProcess(t, "audit", "check-proof", "--data-dir", dir, bundle); code != exitOK || !strings.Contains(out, "entry 3 is in the log") || !strings.Contains(out, "user.login") {
		t.Fatalf("check-proof: %d %q %q", code, out, stderr)
	}
	os.WriteFile(bundle, []byte(strings.Replace(stdout, "user.login", "user.logout", 1)), 0o600)
	if code, _, stderr := runInProcess(t, "audit", "check-proof", "--data-dir", dir, bundle); code != exitFailure || !strings.Contains(stderr, "FAILED") {
		t.Fatalf("check-proof of an edited bundle: %d %q", code, stderr)
	}

	// An export verifies offline; an edited export does not.
	code, stdout, _ = runInProcess(t, "audit", "export", "--data-dir", dir, "--jsonl")
	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(exp, []byte(stdout), 0o600)
	if code, out, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir, "--export", exp); code != exitOK || !strings.Contains(out, "verified:     1..5") {
		t.Fatalf("verify --export: %d %s %s", code, out, stderr)
	}
	os.WriteFile(exp, []byte(strings.Replace(stdout, "key.revoke", "key.rotate", 1)), 0o600)
	if code, _, stderr := runInProcess(t, "audit", "verify", "--data-dir", dir, "--export", exp); code != exitFailure || !strings.Contains(stderr, "TAMPERED: entry 4:") {
		t.Fatalf("verify --export of an edited export: %d %s", code, stderr)
	}

	// Tampering: exit 1, naming the first bad entry.
	for _, q := range []string{"DROP TRIGGER audit_log_no_update",
		"UPDATE audit_log SET entry = CAST(replace(CAST(entry AS TEXT), 'user.login', 'user.logout') AS BLOB) WHERE seq = 3"} {
		if _, err := st.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr = runInProcess(t, "audit", "verify", "--data-dir", dir)
	if code != exitFailure || !strings.Contains(stderr, "TAMPERED: entry 3:") {
		t.Fatalf("verify after tampering: %d %q", code, stderr)
	}
	code, stdout, _ = runInProcess(t, "audit", "verify", "--data-dir", dir, "--json")
	if code != exitFailure || !strings.Contains(stdout, `"verified_to": 2`) || !strings.Contains(stdout, `"Seq": 3`) {
		t.Fatalf("verify --json after tampering: %d %s", code, stdout)
	}
	// A cut tail is caught through the checkpoint file (triggers dropped).
	if _, err := st.ExecContext(context.Background(), "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 3"); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runInProcess(t, "audit", "verify", "--data-dir", dir)
	if code != exitFailure || !strings.Contains(stderr, "TAMPERED: entry 3 (checkpoint") || !strings.Contains(stderr, "tail truncated") {
		t.Fatalf("verify after truncation: %d %q", code, stderr)
	}
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{{"audit"}, {"audit", "frobnicate"}, {"audit", "verify", "extra"}, {"audit", "export", "--since", "-1"}, {"audit", "pseudonym"}, {"audit", "verify", "x", "y"}} {
		if code, _, stderr := runInProcess(t, args...); code != exitUsage || stderr == "" {
			t.Errorf("izwi %q: %d %q", args, code, stderr)
		}
	}
}
