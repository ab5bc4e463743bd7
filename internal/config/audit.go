package config

// Audit configures the hash-chained audit log and its checkpoints.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type Audit struct{}

// defaults fills empty fields with their defaults.
func (x Audit) defaults(c Config) Audit { return x }

// validate reports every problem in x (after defaults).
func (x Audit) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Audit) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Audit) envVars() []string { return nil }
