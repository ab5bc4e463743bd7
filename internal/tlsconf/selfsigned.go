package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/secrets"
)

const (
	// SelfSignedValidity stays within the 825 days Apple platforms accept
	// for any TLS server certificate, trusted by hand or not.
	SelfSignedValidity = 825 * 24 * time.Hour
	// renewBefore regenerates a self-signed certificate this long before it
	// expires, so clients are not cut off by surprise.
	renewBefore = 30 * 24 * time.Hour
)

// SelfSignedPaths returns where the self-signed certificate and key live.
func SelfSignedPaths(dataDir string) (certFile, keyFile string) {
	dir := filepath.Join(dataDir, "tls")
	return filepath.Join(dir, "self-signed.crt"), filepath.Join(dir, "self-signed.key")
}

// selfSignedHosts are the configured hosts plus the loopback names, deduped.
func selfSignedHosts(hosts []string) []string {
	out := []string{}
	for _, h := range append(slices.Clone(hosts), "localhost", "127.0.0.1", "::1") {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		}
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// selfSigned loads the certificate made on an earlier start, or makes one
// when there is none, it no longer covers the configured hosts, it expires
// within renewBefore, or it cannot be read. A key file others can read is
// refused: it may have leaked, so the operator must decide.
func selfSigned(dataDir string, hosts []string, now time.Time, logger *slog.Logger) (*tls.Config, Info, error) {
	certFile, keyFile := SelfSignedPaths(dataDir)
	want := selfSignedHosts(hosts)
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	if certErr == nil && keyErr == nil {
		cert, leaf, err := loadPair(certFile, keyFile, now)
		switch {
		case IsLooseKey(err):
			return nil, Info{}, err
		case err != nil:
			logger.Warn("tls: self-signed certificate unusable; making a new one", "error", err.Error())
		case !covers(leaf, want):
			logger.Warn("tls: tls.hosts changed; making a new self-signed certificate")
		case leaf.NotAfter.Sub(now) < renewBefore:
			logger.Warn("tls: self-signed certificate expires soon; making a new one", "not_after", leaf.NotAfter)
		default:
			info := Info{Fingerprint: Fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Hosts: names(leaf), CertFile: certFile, KeyFile: keyFile}
			return &tls.Config{Certificates: []tls.Certificate{cert}}, info, nil
		}
	}
	if err := generate(certFile, keyFile, want, now); err != nil {
		return nil, Info{}, err
	}
	cert, leaf, err := loadPair(certFile, keyFile, now)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Fingerprint: Fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Hosts: names(leaf), Generated: true,
		CertFile: certFile, KeyFile: keyFile}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, info, nil
}

// covers reports whether leaf names exactly every wanted host.
func covers(leaf *x509.Certificate, want []string) bool {
	have := names(leaf)
	for _, h := range want {
		if !slices.Contains(have, h) {
			return false
		}
	}
	return len(have) == len(want)
}

// generate writes a new ECDSA P-256 key (0600) and certificate. Each file is
// written to a temporary name and renamed, so a crash leaves either the old
// file or the new one, and a mismatched pair is regenerated on next start.
func generate(certFile, keyFile string, hosts []string, now time.Time) error {
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("tlsconf: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tlsconf: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return fmt.Errorf("tlsconf: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "izwi self-signed", Organization: []string{"Izwi"}},
		NotBefore:             now.Add(-time.Hour), // tolerate small clock skew on clients
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tlsconf: creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlsconf: encoding key: %w", err)
	}
	if err := secrets.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return secrets.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
