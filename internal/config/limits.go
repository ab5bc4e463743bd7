package config

// Limits configures quotas, rate limits, IP allow/deny lists and trusted proxies.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type Limits struct{}

// defaults fills empty fields with their defaults.
func (x Limits) defaults(c Config) Limits { return x }

// validate reports every problem in x (after defaults).
func (x Limits) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Limits) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Limits) envVars() []string { return nil }
