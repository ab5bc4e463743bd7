package config

// Telemetry configures metrics and traces.
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type Telemetry struct{}

// defaults fills empty fields with their defaults.
func (x Telemetry) defaults(c Config) Telemetry { return x }

// validate reports every problem in x (after defaults).
func (x Telemetry) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Telemetry) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Telemetry) envVars() []string { return nil }
