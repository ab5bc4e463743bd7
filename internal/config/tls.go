package config

// TLS configures TLS for the public and admin listeners.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type TLS struct{}

// defaults fills empty fields with their defaults.
func (x TLS) defaults(c Config) TLS { return x }

// validate reports every problem in x (after defaults).
func (x TLS) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *TLS) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x TLS) envVars() []string { return nil }
