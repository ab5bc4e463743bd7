package vault

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
)

func TestFindings(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{Data: config.Data{Dir: dir}}.Defaults()
	has := func(fs []Finding, sev, text string) bool {
		for _, f := range fs {
			if f.Severity == sev && strings.Contains(f.Message, text) {
				return true
			}
		}
		return false
	}
	fs := Findings(cfg.Vault, cfg.Data.Database)
	if !has(fs, "info", "master key") || !has(fs, "info", "shred list") {
		t.Fatalf("defaults keep the key and list beside the database: %+v", fs)
	}
	os.MkdirAll(filepath.Dir(cfg.Vault.MasterKeyPath), 0o700)
	os.WriteFile(cfg.Vault.MasterKeyPath, []byte("x"), 0o644)
	if fs := Findings(cfg.Vault, cfg.Data.Database); !has(fs, "warning", "chmod 600") {
		t.Fatalf("loose key file: %+v", fs)
	}
	other := t.TempDir()
	cfg.Vault.MasterKeyPath = filepath.Join(other, "master.key")
	cfg.Vault.ShredListPath = filepath.Join(other, "shredded.list")
	if fs := Findings(cfg.Vault, cfg.Data.Database); has(fs, "info", "master key") || has(fs, "info", "shred list") {
		t.Fatalf("key and list on their own directory: %+v", fs)
	}
	cfg.Vault.Provider, cfg.Vault.TPMDevice = config.VaultProviderTPM, filepath.Join(dir, "no-tpm")
	if fs := Findings(cfg.Vault, cfg.Data.Database); !has(fs, "warning", "not there") {
		t.Fatalf("missing TPM: %+v", fs)
	}
}
