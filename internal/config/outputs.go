package config

import (
	"fmt"
	"strings"
)

// Outputs configures caption outputs (issue 18): where their credentials
// files and live caption files live.
type Outputs struct {
	// CredentialsDir holds the files outputs name as credentials (a
	// YouTube ingestion URL, an OBS password, a webhook key), one per
	// file, 0600 (IZWI_OUTPUTS_CREDENTIALS_DIR). Empty: outputs that need
	// credentials cannot be created.
	CredentialsDir string `json:"credentials_dir,omitempty" toml:"credentials_dir"`
	// FileDir is where file outputs write captions for presentation
	// software: writing words to disk is this opt-in
	// (IZWI_OUTPUTS_FILE_DIR). Empty: file outputs are off.
	FileDir string `json:"file_dir,omitempty" toml:"file_dir"`
	// MaxPerSession bounds a session's outputs (IZWI_OUTPUTS_MAX_PER_SESSION).
	// Default 8.
	MaxPerSession int `json:"max_per_session,omitempty" toml:"max_per_session"`
	// AllowHosts lists where OBS and webhook outputs may connect: host
	// names, IP addresses or CIDR prefixes (IZWI_OUTPUTS_ALLOW_HOSTS,
	// comma-separated). Empty: nowhere, so an API caller cannot make the
	// server connect to an address of its choosing. outputs.ParseDestinations
	// checks the entries when the server starts.
	AllowHosts []string `json:"allow_hosts,omitempty" toml:"allow_hosts"`
}

func (x Outputs) defaults(Config) Outputs {
	if x.MaxPerSession == 0 {
		x.MaxPerSession = 8
	}
	if len(x.AllowHosts) == 0 {
		x.AllowHosts = nil // an empty list in a file is no list
	}
	return x
}

func (x Outputs) validate() []error {
	var errs []error
	if x.MaxPerSession < 1 || x.MaxPerSession > 64 {
		errs = append(errs, fmt.Errorf("config: outputs.max_per_session %d: want 1 to 64", x.MaxPerSession))
	}
	return errs
}

func (x *Outputs) applyEnv(e envReader) {
	e.String("IZWI_OUTPUTS_CREDENTIALS_DIR", &x.CredentialsDir)
	e.String("IZWI_OUTPUTS_FILE_DIR", &x.FileDir)
	e.Int("IZWI_OUTPUTS_MAX_PER_SESSION", &x.MaxPerSession)
	if v, ok := e.get("IZWI_OUTPUTS_ALLOW_HOSTS"); ok {
		x.AllowHosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				x.AllowHosts = append(x.AllowHosts, h)
			}
		}
	}
}

func (x Outputs) envVars() []string {
	return []string{"IZWI_OUTPUTS_CREDENTIALS_DIR", "IZWI_OUTPUTS_FILE_DIR", "IZWI_OUTPUTS_MAX_PER_SESSION", "IZWI_OUTPUTS_ALLOW_HOSTS"}
}
