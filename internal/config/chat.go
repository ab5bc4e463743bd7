package config

// Chat configures the [chat] section. (Filled in by its owner; the hooks below
// are wired into Defaults, Validate and the environment already.)
type Chat struct{}

// defaults fills empty fields with their defaults.
func (x Chat) defaults(c Config) Chat { return x }

// validate reports every problem in x (after defaults).
func (x Chat) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Chat) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Chat) envVars() []string { return nil }
