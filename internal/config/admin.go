package config

// Admin configures the admin console: users, passwords, MFA, sessions.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type Admin struct{}

// defaults fills empty fields with their defaults.
func (x Admin) defaults(c Config) Admin { return x }

// validate reports every problem in x (after defaults).
func (x Admin) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Admin) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Admin) envVars() []string { return nil }
