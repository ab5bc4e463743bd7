package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/izwi-speech/izwi/internal/config"
)

// Finding is one observation for `izwi doctor`.
type Finding struct {
	// Severity is "warning" (unsafe: fix it) or "info" (advice).
	Severity string
	Message  string
}

// Findings checks the vault's files for cfg (after config defaults) beside
// the database at database: loose modes (which izwi refuses at start), a
// master key kept where a copy of the database directory carries it too,
// a shred list that database backups roll back, and a missing TPM.
func Findings(cfg config.Vault, database string) []Finding {
	var out []Finding
	dbDir := filepath.Dir(database)
	for _, f := range []struct{ path, what string }{
		{cfg.MasterKeyPath, "master key file"}, {cfg.PassphraseParamsPath, "passphrase parameters"},
		{cfg.TPMSealedKeyPath, "TPM-sealed key"}, {cfg.ShredListPath, "shred list"},
	} {
		if st, err := os.Stat(f.path); f.path != "" && err == nil && st.Mode().Perm()&0o077 != 0 {
			out = append(out, Finding{"warning", fmt.Sprintf("vault: %s %s has mode %v; chmod 600 (izwi refuses to start with it)",
				f.what, f.path, st.Mode().Perm())})
		}
	}
	switch cfg.Provider {
	case config.VaultProviderFile:
		if within(cfg.MasterKeyPath, dbDir) {
			out = append(out, Finding{"info", fmt.Sprintf("vault: the master key %s is in the database's directory, so a copy of that "+
				"directory opens everything the vault sealed; move it to another volume (master_key_path), or use the passphrase or tpm provider",
				cfg.MasterKeyPath)})
		}
	case config.VaultProviderTPM:
		if strings.HasPrefix(cfg.TPMDevice, "/") {
			if _, err := os.Stat(cfg.TPMDevice); err != nil {
				out = append(out, Finding{"warning", fmt.Sprintf("vault: provider tpm, but %s is not there: %v", cfg.TPMDevice, err)})
			}
		} else {
			out = append(out, Finding{"warning", fmt.Sprintf("vault: tpm_device %s is a software TPM (tests and development only)", cfg.TPMDevice)})
		}
	}
	if within(cfg.ShredListPath, dbDir) {
		out = append(out, Finding{"info", fmt.Sprintf("vault: the shred list %s is beside the database; a backup that restores both "+
			"revives shredded data: keep it out of database backups (shred_list_path)", cfg.ShredListPath)})
	}
	return out
}

// within reports whether path lies under dir.
func within(path, dir string) bool {
	if path == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
