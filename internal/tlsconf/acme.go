package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"
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
	if cfg.ACMEDirectoryURL != "" {
		client, err := acmeHTTPClient(cfg.ACMECAFile)
		if err != nil {
			return nil, Info{}, err
		}
		m.Client = &acme.Client{DirectoryURL: cfg.ACMEDirectoryURL, HTTPClient: client}
	}
	// build hardens the config (versions, suites); autocert's NextProtos
	// keep acme-tls/1 for the TLS-ALPN-01 challenge.
	return m.TLSConfig(), Info{Hosts: hosts}, nil
}

// acmeHTTPClient trusts the system roots plus those in caFile (a venue's
// own ACME CA) for talking to the CA.
func acmeHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return http.DefaultClient, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: acme_ca_file: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsconf: acme_ca_file %s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: time.Minute}, nil
}
