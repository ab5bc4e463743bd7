package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Audit defaults, documented in izwi.example.toml.
const (
	DefaultAuditCheckpointEvery    = 1
	DefaultAuditCheckpointInterval = 5 * time.Minute
	DefaultAuditHeartbeatInterval  = time.Hour
)

// Audit configures the hash-chained audit log and its signed checkpoints.
// Checkpoints live outside the database so that a cut-off tail of the log
// is detectable; put them (and ideally the signer key) on another volume.
type Audit struct {
	// CheckpointPath is the append-only file of signed checkpoints.
	// Default <data dir>/audit/checkpoints.
	CheckpointPath string `json:"checkpoint_path,omitempty" toml:"checkpoint_path"`
	// SignerKeyPath is the Ed25519 note signer key (0600), generated on first
	// start; its verifier key is written beside it as <path>.pub.
	// Default <data dir>/audit/signer.key.
	SignerKeyPath string `json:"signer_key_path,omitempty" toml:"signer_key_path"`
	// PseudonymKeyPath is the HMAC key (0600) that turns remote IPs into
	// pseudonyms; destroying it makes them unlinkable without breaking the
	// chain. Default <data dir>/audit/pseudonym.key.
	PseudonymKeyPath string `json:"pseudonym_key_path,omitempty" toml:"pseudonym_key_path"`
	// CheckpointEvery writes a checkpoint after this many entries. Default 1:
	// every entry is anchored at once, so one appended later by someone else
	// is caught (the server refuses to extend a log past its last checkpoint).
	CheckpointEvery int `json:"checkpoint_every,omitempty" toml:"checkpoint_every"`
	// CheckpointInterval writes a checkpoint this often when the log grew.
	// Default 5m.
	CheckpointInterval Duration `json:"checkpoint_interval,omitempty" toml:"checkpoint_interval"`
	// HeartbeatInterval appends a heartbeat entry this often so that silence
	// (a stopped or cut-off log) is visible. Default 1h.
	HeartbeatInterval Duration `json:"heartbeat_interval,omitempty" toml:"heartbeat_interval"`
	// WitnessURL, if set, gets every signed checkpoint as an HTTPS POST
	// (text/plain), a copy off this machine (http only to a loopback
	// relay). Empty: none.
	WitnessURL string `json:"witness_url,omitempty" toml:"witness_url"`
}

// defaults fills empty fields with their defaults. Paths are cleaned so that
// "./data/audit/x" and the derived "data/audit/x" compare equal.
func (x Audit) defaults(c Config) Audit {
	dir := c.Data.Dir
	if dir == "" {
		dir = DefaultDataDir
	}
	path := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(dir, "audit", name)
		}
		*p = filepath.Clean(*p)
	}
	path(&x.CheckpointPath, "checkpoints")
	path(&x.SignerKeyPath, "signer.key")
	path(&x.PseudonymKeyPath, "pseudonym.key")
	if x.CheckpointEvery == 0 {
		x.CheckpointEvery = DefaultAuditCheckpointEvery
	}
	if x.CheckpointInterval == 0 {
		x.CheckpointInterval = Duration(DefaultAuditCheckpointInterval)
	}
	if x.HeartbeatInterval == 0 {
		x.HeartbeatInterval = Duration(DefaultAuditHeartbeatInterval)
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Audit) validate() []error {
	var errs []error
	if x.CheckpointEvery < 1 || x.CheckpointEvery > 1_000_000 {
		errs = append(errs, fmt.Errorf("config: audit.checkpoint_every %d: want 1..1000000", x.CheckpointEvery))
	}
	if x.CheckpointInterval.Std() < time.Second || x.CheckpointInterval.Std() > 24*time.Hour {
		errs = append(errs, fmt.Errorf("config: audit.checkpoint_interval %v: want 1s..24h", x.CheckpointInterval.Std()))
	}
	if x.HeartbeatInterval.Std() < time.Second || x.HeartbeatInterval.Std() > 24*time.Hour {
		errs = append(errs, fmt.Errorf("config: audit.heartbeat_interval %v: want 1s..24h", x.HeartbeatInterval.Std()))
	}
	if u := x.WitnessURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://127.") &&
		!strings.HasPrefix(u, "http://localhost") && !strings.HasPrefix(u, "http://[::1]") {
		errs = append(errs, fmt.Errorf("config: audit.witness_url: want https:// (http only to a loopback relay)"))
	}
	if x.CheckpointPath == x.SignerKeyPath || x.CheckpointPath == x.PseudonymKeyPath || x.SignerKeyPath == x.PseudonymKeyPath {
		errs = append(errs, fmt.Errorf("config: audit.checkpoint_path, signer_key_path and pseudonym_key_path must be three different files"))
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Audit) applyEnv(e envReader) {
	e.String("IZWI_AUDIT_CHECKPOINT_PATH", &x.CheckpointPath)
	e.String("IZWI_AUDIT_SIGNER_KEY_PATH", &x.SignerKeyPath)
	e.String("IZWI_AUDIT_PSEUDONYM_KEY_PATH", &x.PseudonymKeyPath)
	e.Int("IZWI_AUDIT_CHECKPOINT_EVERY", &x.CheckpointEvery)
	e.Duration("IZWI_AUDIT_CHECKPOINT_INTERVAL", &x.CheckpointInterval)
	e.Duration("IZWI_AUDIT_HEARTBEAT_INTERVAL", &x.HeartbeatInterval)
	e.String("IZWI_AUDIT_WITNESS_URL", &x.WitnessURL)
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Audit) envVars() []string {
	return []string{"IZWI_AUDIT_CHECKPOINT_PATH", "IZWI_AUDIT_SIGNER_KEY_PATH", "IZWI_AUDIT_PSEUDONYM_KEY_PATH",
		"IZWI_AUDIT_CHECKPOINT_EVERY", "IZWI_AUDIT_CHECKPOINT_INTERVAL", "IZWI_AUDIT_HEARTBEAT_INTERVAL",
		"IZWI_AUDIT_WITNESS_URL"}
}
