package config

// Auth configures API keys and the authentication chain (gateway: keys, scopes).
// Fields are added by the slice that owns this file; keep every key
// documented in izwi.example.toml (a test checks).
type Auth struct{}

// defaults fills empty fields with their defaults.
func (x Auth) defaults(c Config) Auth { return x }

// validate reports every problem in x (after defaults).
func (x Auth) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Auth) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Auth) envVars() []string { return nil }
