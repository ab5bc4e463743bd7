package config

// JWT configures trusted JWT issuers and WebSocket tickets.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type JWT struct{}

// defaults fills empty fields with their defaults.
func (x JWT) defaults(c Config) JWT { return x }

// validate reports every problem in x (after defaults).
func (x JWT) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *JWT) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x JWT) envVars() []string { return nil }
