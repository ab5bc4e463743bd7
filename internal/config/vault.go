package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Vault master-key providers and defaults, documented in izwi.example.toml.
const (
	VaultProviderFile       = "file"
	VaultProviderPassphrase = "passphrase"
	VaultProviderEnv        = "env"
	VaultProviderTPM        = "tpm"
	DefaultVaultTPMDevice   = "/dev/tpmrm0"
)

// Vault configures the privacy vault's master key (the key that wraps the
// per-object data keys of voiceprints, consent records, stored transcripts,
// review snippets and credentials). The key never goes in this file or in
// the database.
type Vault struct {
	// Provider is where the master key lives: "file" (default; 32 random
	// bytes in MasterKeyPath, 0600, made on first start), "passphrase"
	// (argon2id from the secret vault_passphrase), "env" (the secret
	// vault_key: IZWI_VAULT_KEY_FILE or a systemd credential) or "tpm"
	// (sealed to the TPM 2.0 under PCRs TPMPCRs).
	Provider string `json:"provider,omitempty" toml:"provider"`
	// MasterKeyPath is the file provider's key. Default <data dir>/vault/master.key.
	MasterKeyPath string `json:"master_key_path,omitempty" toml:"master_key_path"`
	// PassphraseFile holds the passphrase (0600); empty looks up
	// IZWI_VAULT_PASSPHRASE, IZWI_VAULT_PASSPHRASE_FILE or the systemd
	// credential vault_passphrase.
	PassphraseFile string `json:"passphrase_file,omitempty" toml:"passphrase_file"`
	// PassphraseParamsPath keeps the passphrase provider's salt and argon2id
	// costs. Default <data dir>/vault/passphrase.json.
	PassphraseParamsPath string `json:"passphrase_params_path,omitempty" toml:"passphrase_params_path"`
	// TPMDevice is the TPM 2.0 device. Default /dev/tpmrm0.
	TPMDevice string `json:"tpm_device,omitempty" toml:"tpm_device"`
	// TPMSealedKeyPath keeps the TPM-sealed master key. Default
	// <data dir>/vault/master.tpm.
	TPMSealedKeyPath string `json:"tpm_sealed_key_path,omitempty" toml:"tpm_sealed_key_path"`
	// TPMPCRs are the PCRs (SHA-256 bank) the key is sealed to. Default
	// [0, 7]: firmware and Secure Boot state.
	TPMPCRs []int `json:"tpm_pcrs,omitempty" toml:"tpm_pcrs"`
	// ShredListPath is the append-only list of destroyed data-key ids,
	// re-applied at start so a database restored from an older backup stays
	// shredded. Default <data dir>/vault/shredded.list.
	ShredListPath string `json:"shred_list_path,omitempty" toml:"shred_list_path"`
}

// defaults fills empty fields with their defaults.
func (x Vault) defaults(c Config) Vault {
	dir := c.Data.Dir
	if dir == "" {
		dir = DefaultDataDir
	}
	if x.Provider == "" {
		x.Provider = VaultProviderFile
	}
	path := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(dir, "vault", name)
		}
		*p = filepath.Clean(*p)
	}
	path(&x.MasterKeyPath, "master.key")
	path(&x.PassphraseParamsPath, "passphrase.json")
	path(&x.TPMSealedKeyPath, "master.tpm")
	path(&x.ShredListPath, "shredded.list")
	if x.TPMDevice == "" {
		x.TPMDevice = DefaultVaultTPMDevice
	}
	if len(x.TPMPCRs) == 0 {
		x.TPMPCRs = []int{0, 7}
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Vault) validate() []error {
	var errs []error
	switch x.Provider {
	case VaultProviderFile, VaultProviderPassphrase, VaultProviderEnv, VaultProviderTPM:
	default:
		errs = append(errs, fmt.Errorf("config: vault.provider %q: want file, passphrase, env or tpm", x.Provider))
	}
	seen := map[int]bool{}
	for _, p := range x.TPMPCRs {
		if p < 0 || p > 23 || seen[p] {
			errs = append(errs, fmt.Errorf("config: vault.tpm_pcrs %v: want distinct PCR numbers 0..23", x.TPMPCRs))
			break
		}
		seen[p] = true
	}
	if x.Provider == VaultProviderTPM && !slices.Contains(x.TPMPCRs, 7) {
		errs = append(errs, fmt.Errorf("config: vault.tpm_pcrs %v leaves out PCR 7 (Secure Boot state); a key sealed without it unseals under any boot policy", x.TPMPCRs))
	}
	paths := []string{x.MasterKeyPath, x.PassphraseParamsPath, x.TPMSealedKeyPath, x.ShredListPath}
	for i := range paths {
		if slices.Contains(paths[i+1:], paths[i]) {
			errs = append(errs, fmt.Errorf("config: vault.master_key_path, passphrase_params_path, tpm_sealed_key_path and shred_list_path must be different files"))
			break
		}
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Vault) applyEnv(e envReader) {
	e.String("IZWI_VAULT_PROVIDER", &x.Provider)
	e.String("IZWI_VAULT_MASTER_KEY_PATH", &x.MasterKeyPath)
	e.String("IZWI_VAULT_PASSPHRASE_PARAMS_PATH", &x.PassphraseParamsPath)
	e.String("IZWI_VAULT_TPM_DEVICE", &x.TPMDevice)
	e.String("IZWI_VAULT_TPM_SEALED_KEY_PATH", &x.TPMSealedKeyPath)
	e.String("IZWI_VAULT_SHRED_LIST_PATH", &x.ShredListPath)
	var pcrs string
	e.String("IZWI_VAULT_TPM_PCRS", &pcrs)
	if pcrs != "" {
		x.TPMPCRs = nil
		for _, f := range strings.Split(pcrs, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				*e.errs = append(*e.errs, fmt.Errorf("config: IZWI_VAULT_TPM_PCRS=%q: want comma-separated PCR numbers", pcrs))
				x.TPMPCRs = nil
				return
			}
			x.TPMPCRs = append(x.TPMPCRs, n)
		}
	}
}

// envVars lists the IZWI_* variables applyEnv reads. The passphrase file is
// read by internal/secrets as IZWI_VAULT_PASSPHRASE_FILE, so it is not a
// config variable here.
func (x Vault) envVars() []string {
	return []string{"IZWI_VAULT_PROVIDER", "IZWI_VAULT_MASTER_KEY_PATH", "IZWI_VAULT_PASSPHRASE_PARAMS_PATH",
		"IZWI_VAULT_TPM_DEVICE", "IZWI_VAULT_TPM_SEALED_KEY_PATH", "IZWI_VAULT_TPM_PCRS", "IZWI_VAULT_SHRED_LIST_PATH"}
}
