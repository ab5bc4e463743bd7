package config

// Vault configures the [vault] section. (Filled in by its owner; the hooks below
// are wired into Defaults, Validate and the environment already.)
type Vault struct{}

// defaults fills empty fields with their defaults.
func (x Vault) defaults(c Config) Vault { return x }

// validate reports every problem in x (after defaults).
func (x Vault) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Vault) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Vault) envVars() []string { return nil }
