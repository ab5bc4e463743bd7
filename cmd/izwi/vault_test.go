package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// openPrivacyWiring opens dir's database, audit log and vault the way izwi
// serve and the CLI tools do. The caller closes the audit log and database.
func openPrivacyWiring(t *testing.T, dir string) (config.Config, *store.Store, *audit.Log, *vault.Keyring) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Config{Data: config.Data{Dir: dir}}.Defaults()
	db, err := store.Open(ctx, cfg.Data.Database)
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger(&bytes.Buffer{}, "error")
	alog, err := openAuditTool(ctx, db, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := openVault(ctx, cfg, db, alog, logger)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, db, alog, kr
}

func vaultCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	code := runVault(context.Background(), c, append(args, "--data-dir", dir))
	return code, out.String(), errb.String()
}

// izwi vault status and rotate against a real database: rotate changes the
// master-key id, keeps sealed data readable, and is in the audit log.
func TestVaultCLI(t *testing.T) {
	t.Setenv("IZWI_CONFIG", "")
	t.Setenv("IZWI_VAULT_PROVIDER", "")
	dir := t.TempDir()
	code, out, errs := vaultCLI(t, dir, "status", "--json")
	var st struct {
		Provider string         `json:"provider"`
		KEKID    string         `json:"kek_id"`
		Keys     map[string]int `json:"keys"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.Provider != "file" || st.KEKID == "" {
		t.Fatalf("status: %d %s %s", code, out, errs)
	}
	keyFile := filepath.Join(dir, "vault", "master.key")
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("no master key file after status: %v", err)
	}

	// Seal something through the same wiring izwi serve uses.
	ctx := context.Background()
	cfg, db, alog, kr := openPrivacyWiring(t, dir)
	blob, err := kr.Seal(ctx, "consent", "consent:1", []byte("signed"))
	if err != nil {
		t.Fatal(err)
	}

	code, out, errs = vaultCLI(t, dir, "rotate")
	if code != exitOK || !strings.Contains(out, "1 data keys re-wrapped") || !strings.Contains(out, st.KEKID+" -> ") {
		t.Fatalf("rotate: %d %q %s", code, out, errs)
	}
	if got, err := kr.Open(ctx, "consent", "consent:1", blob); err != nil || string(got) != "signed" {
		t.Fatalf("the running keyring lost the object after a CLI rotation: %v", err)
	}
	if key2, _ := os.ReadFile(keyFile); bytes.Equal(key, key2) {
		t.Fatal("the master key file did not change")
	}
	code, out, _ = vaultCLI(t, dir, "status")
	if code != exitOK || strings.Contains(out, st.KEKID) || !strings.Contains(out, "consent 1") ||
		!strings.Contains(out, "retired master keys  1") {
		t.Fatalf("status after rotate: %d\n%s", code, out)
	}
	if strings.Contains(out+errs, strings.TrimSpace(string(key))) {
		t.Fatal("the master key was printed")
	}
	alog.Close()
	db.Close()
	db, _ = store.Open(ctx, cfg.Data.Database)
	defer db.Close()
	entries := 0
	rows, err := db.QueryContext(context.Background(), "SELECT entry FROM audit_log")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		if e, err := audit.Decode(b); err == nil && e.Event.Action == "vault.rotate" && e.Event.Actor == "system:cli" {
			entries++
		}
	}
	if entries != 1 {
		t.Fatalf("%d vault.rotate audit entries by system:cli, want 1", entries)
	}

	// Move to the passphrase provider; status under it sees the same keys.
	t.Setenv("IZWI_VAULT_PASSPHRASE", "a long enough vault passphrase")
	if code, _, _ := vaultCLI(t, dir, "move"); code != exitUsage {
		t.Fatalf("move without --to: %d", code)
	}
	if code, _, _ := vaultCLI(t, dir, "move", "--to", "file"); code != exitUsage {
		t.Fatalf("move to the configured provider: %d", code)
	}
	code, out, errs = vaultCLI(t, dir, "move", "--to", "passphrase")
	if code != exitOK || !strings.Contains(out, "1 data keys re-wrapped") || !strings.Contains(errs, `provider = "passphrase"`) {
		t.Fatalf("move: %d %q %s", code, out, errs)
	}
	t.Setenv("IZWI_VAULT_PROVIDER", "passphrase")
	if code, out, errs := vaultCLI(t, dir, "status"); code != exitOK || !strings.Contains(out, "passphrase") || !strings.Contains(out, "consent 1") {
		t.Fatalf("status after the move: %d %s %s", code, out, errs)
	}
	t.Setenv("IZWI_VAULT_PROVIDER", "")
	if code, _, errs := vaultCLI(t, dir, "status"); code != exitFailure || !strings.Contains(errs, "does not hold") {
		t.Fatalf("the old provider after the move: %d %s", code, errs)
	}

	if code, _, _ := vaultCLI(t, dir, "explode"); code != exitUsage {
		t.Fatalf("unknown subcommand: %d", code)
	}
	t.Setenv("IZWI_VAULT_PROVIDER", "rot13")
	if code, _, _ := vaultCLI(t, dir, "status"); code != exitUsage {
		t.Fatalf("bad provider: %d", code)
	}
	t.Setenv("IZWI_VAULT_PROVIDER", "")
	os.Chmod(keyFile, 0o644)
	if code, _, errs := vaultCLI(t, dir, "status"); code != exitFailure || !strings.Contains(errs, "chmod 600") {
		t.Fatalf("loose key file: %d %s", code, errs)
	}
}
