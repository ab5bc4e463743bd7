package vault

import (
	"fmt"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/secrets"
)

// ProviderFrom builds the master-key provider the validated [vault] section
// names. src reads secrets (passphrase, key) from the environment, *_FILE
// variables and systemd credentials.
func ProviderFrom(c config.Vault, src secrets.Source) (Provider, error) {
	switch c.Provider {
	case config.VaultProviderFile, "":
		return &FileProvider{Path: c.MasterKeyPath}, nil
	case config.VaultProviderPassphrase:
		return &PassphraseProvider{ParamsPath: c.PassphraseParamsPath, PassphraseFile: c.PassphraseFile, Source: src}, nil
	case config.VaultProviderEnv:
		return &EnvProvider{Source: src}, nil
	case config.VaultProviderTPM:
		pcrs := make([]uint, 0, len(c.TPMPCRs))
		for _, p := range c.TPMPCRs {
			if p < 0 || p > 23 {
				return nil, fmt.Errorf("vault: PCR %d out of range", p)
			}
			pcrs = append(pcrs, uint(p))
		}
		return &TPMProvider{Device: c.TPMDevice, SealedPath: c.TPMSealedKeyPath, PCRs: pcrs}, nil
	}
	return nil, fmt.Errorf("vault: unknown provider %q: want file, passphrase, env or tpm", c.Provider)
}
