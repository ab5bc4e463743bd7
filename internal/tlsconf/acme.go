package tlsconf

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/acme/autocert"

	"github.com/izwi-speech/izwi/internal/config"
)

// acmeConfig returns a configuration that obtains and renews certificates
// from an ACME CA (Let's Encrypt by default) with the TLS-ALPN-01 challenge,
// so no plain-HTTP port is needed; the CA must reach this listener on port
// 443. Only the configured DNS names are ever requested, so a client cannot
// make Izwi ask for certificates for arbitrary names.
func acmeConfig(cfg config.TLS, dataDir string) (*tls.Config, Info, error) {
	var hosts []string
	for _, h := range cfg.Hosts {
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, Info{}, fmt.Errorf("tlsconf: mode acme needs tls.hosts")
	}
	dir := cfg.ACMECacheDir
	if dir == "" {
		dir = filepath.Join(dataDir, "tls", "acme")
	}
	// The cache holds the ACME account key and certificate keys.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Info{}, fmt.Errorf("tlsconf: acme cache: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, Info{}, fmt.Errorf("tlsconf: acme cache: %w", err)
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(dir),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Email:      cfg.ACMEEmail,
	}
	return m.TLSConfig(), Info{Hosts: hosts}, nil
}
