package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// fromFiles loads a PEM certificate chain and private key. The key file must
// be accessible by its owner only; the pair must match and be valid now.
// Renewed files are picked up while running (see reloader).
func fromFiles(certFile, keyFile string, now func() time.Time, logger *slog.Logger) (*tls.Config, Info, error) {
	cert, leaf, err := loadPair(certFile, keyFile, now())
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Fingerprint: Fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Hosts: names(leaf),
		CertFile: certFile, KeyFile: keyFile}
	return &tls.Config{GetCertificate: newReloader(certFile, keyFile, cert, now, logger).GetCertificate}, info, nil
}

// loadPair reads and checks one certificate and key.
func loadPair(certFile, keyFile string, now time.Time) (tls.Certificate, *x509.Certificate, error) {
	// secrets.ReadFile checks the mode on the opened file: a key others can
	// read is refused, not fixed, because it may already have leaked.
	key, err := secrets.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tlsconf: private key %s: %w", keyFile, err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tlsconf: certificate: %w", err)
	}
	return parsePair(certPEM, []byte(key.Reveal()), certFile, now)
}

// parsePair turns PEM bytes into a checked certificate.
func parsePair(certPEM, keyPEM []byte, certFile string, now time.Time) (tls.Certificate, *x509.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "does not match") {
			return tls.Certificate{}, nil, fmt.Errorf("tlsconf: %s and its key do not belong together (the key is for another certificate): %w", certFile, err)
		}
		return tls.Certificate{}, nil, fmt.Errorf("tlsconf: %s and its key: not a PEM certificate and private key: %w", certFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("tlsconf: %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	if err := checkValidity(leaf, now, "certificate "+certFile); err != nil {
		return tls.Certificate{}, nil, err
	}
	return cert, leaf, nil
}

// names lists a certificate's DNS and IP SANs.
func names(leaf *x509.Certificate) []string {
	out := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// ReadCertificate describes the first certificate in a PEM file (for
// `izwi doctor` and the admin console); it reads no key.
func ReadCertificate(path string) (Info, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Info{}, fmt.Errorf("tlsconf: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return Info{}, fmt.Errorf("tlsconf: %s holds no PEM certificate", path)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return Info{}, fmt.Errorf("tlsconf: %s: %w", path, err)
		}
		return Info{Fingerprint: Fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Hosts: names(leaf), CertFile: path}, nil
	}
}
