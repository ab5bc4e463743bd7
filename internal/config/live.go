package config

// Live configures the [live] section. (Filled in by its owner; the hooks below
// are wired into Defaults, Validate and the environment already.)
type Live struct{}

// defaults fills empty fields with their defaults.
func (x Live) defaults(c Config) Live { return x }

// validate reports every problem in x (after defaults).
func (x Live) validate() []error { return nil }

// applyEnv reads this section's IZWI_* variables.
func (x *Live) applyEnv(e envReader) {}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Live) envVars() []string { return nil }
