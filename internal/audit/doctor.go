package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/izwi-speech/izwi/internal/config"
)

// Finding is one observation for `izwi doctor`.
type Finding struct {
	// Severity is "warning" (unsafe: fix it) or "info" (advice).
	Severity string
	Message  string
}

// Findings checks the audit log's files for cfg (after config defaults)
// beside the database at database: loose key or checkpoint file modes, a
// signer key without its verifier key, and checkpoints kept on the same
// filesystem as the database (where one attacker can rewrite both).
func Findings(cfg config.Audit, database string) []Finding {
	var out []Finding
	for _, f := range []struct{ path, what string }{
		{cfg.SignerKeyPath, "checkpoint signer key"}, {cfg.PseudonymKeyPath, "IP pseudonym key"},
	} {
		if st, err := os.Stat(f.path); err == nil && st.Mode().Perm()&0o077 != 0 {
			out = append(out, Finding{"warning", fmt.Sprintf("audit: %s %s has mode %v; chmod 600 (izwi refuses to start with it)",
				f.what, f.path, st.Mode().Perm())})
		}
	}
	if st, err := os.Stat(cfg.CheckpointPath); err == nil && st.Mode().Perm()&0o022 != 0 {
		out = append(out, Finding{"warning", fmt.Sprintf("audit: checkpoint file %s is writable by group or others (mode %v); chmod 600",
			cfg.CheckpointPath, st.Mode().Perm())})
	}
	if _, err := os.Stat(cfg.SignerKeyPath); err == nil {
		if _, err := os.Stat(cfg.SignerKeyPath + ".pub"); errors.Is(err, fs.ErrNotExist) {
			out = append(out, Finding{"warning", fmt.Sprintf("audit: verifier key %s.pub is missing; izwi audit verify needs it", cfg.SignerKeyPath)})
		}
	}
	if sameDevice(cfg.CheckpointPath, database) {
		out = append(out, Finding{"info", fmt.Sprintf("audit: checkpoints (%s) are on the same filesystem as the database; "+
			"set audit.checkpoint_path to another volume, or ship the process log (it carries every checkpoint) off this machine",
			cfg.CheckpointPath)})
	}
	return out
}

// sameDevice reports whether a and b (or their nearest existing ancestors)
// are on one filesystem; false when that cannot be told.
func sameDevice(a, b string) bool {
	da, oka := device(a)
	db, okb := device(b)
	return oka && okb && da == db
}

func device(p string) (uint64, bool) {
	p, err := filepath.Abs(p)
	if err != nil {
		return 0, false
	}
	for {
		if st, err := os.Stat(p); err == nil {
			if s, ok := st.Sys().(*syscall.Stat_t); ok {
				return uint64(s.Dev), true
			}
			return 0, false
		}
		parent := filepath.Dir(p)
		if parent == p {
			return 0, false
		}
		p = parent
	}
}
