package config

import (
	"fmt"
	"path/filepath"
)

// Auth configures API keys and the authentication chain (gateway: keys, scopes).
// Keep every key documented in izwi.example.toml (a test checks).
type Auth struct {
	// PepperFile holds the secret HMAC key that API-key hashes are made
	// with (IZWI_AUTH_PEPPER_FILE). Created, mode 0600, on first start if
	// absent. Default <data dir>/auth.pepper. Keep it out of database
	// backups: with it, a stolen database still cannot be used to test
	// guessed keys offline.
	PepperFile string `json:"pepper_file,omitempty" toml:"pepper_file"`
	// RequireAuth makes every non-public route demand credentials
	// (IZWI_AUTH_REQUIRE). Default true. false lets requests without any
	// credentials act with every scope except admin; the server refuses to
	// start that way unless it listens on loopback only.
	RequireAuth *bool `json:"require_auth,omitempty" toml:"require_auth"`
}

// Required reports whether credentials are required (the default).
func (x Auth) Required() bool { return x.RequireAuth == nil || *x.RequireAuth }

// defaults fills empty fields with their defaults.
func (x Auth) defaults(c Config) Auth {
	if x.PepperFile == "" {
		x.PepperFile = filepath.Join(c.Data.Dir, "auth.pepper")
	}
	x.PepperFile = filepath.Clean(x.PepperFile)
	if x.RequireAuth == nil {
		on := true
		x.RequireAuth = &on
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Auth) validate() []error {
	if x.PepperFile == "." || x.PepperFile == "/" {
		return []error{fmt.Errorf("config: auth.pepper_file %q is not a file", x.PepperFile)}
	}
	return nil
}

// applyEnv reads this section's IZWI_* variables.
func (x *Auth) applyEnv(e envReader) {
	e.String("IZWI_AUTH_PEPPER_FILE", &x.PepperFile)
	if _, ok := e.get("IZWI_AUTH_REQUIRE"); ok {
		var b bool
		e.Bool("IZWI_AUTH_REQUIRE", &b)
		x.RequireAuth = &b
	}
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Auth) envVars() []string { return []string{"IZWI_AUTH_PEPPER_FILE", "IZWI_AUTH_REQUIRE"} }
