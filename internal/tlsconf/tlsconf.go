// Package tlsconf owns TLS for Izwi's listeners: one hardened *tls.Config
// (TLS 1.2 minimum, 1.3 preferred, AEAD ECDHE suites only, X25519/P-256)
// whose certificate comes from PEM files, a self-signed ECDSA certificate
// made on first start under <data dir>/tls, or ACME; and the HSTS middleware
// for TLS listeners. Only cmd/izwi (the composition root) imports it.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/secrets"
)

// HSTSValue is the Strict-Transport-Security header TLS listeners send.
const HSTSValue = "max-age=31536000; includeSubDomains"

// Info describes the certificate a listener serves, for the start-up banner
// and the admin console. It holds nothing secret.
type Info struct {
	Mode string `json:"mode"`
	// Fingerprint is the SHA-256 of the leaf certificate (DER), upper-case
	// hex pairs joined by colons as `openssl x509 -fingerprint -sha256`
	// prints it; empty for acme, whose certificates come and go.
	Fingerprint string    `json:"fingerprint,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	// Hosts are the names the certificate (or ACME policy) covers.
	Hosts []string `json:"hosts,omitempty"`
	// Generated is true when this start made a new self-signed certificate
	// (clients that pinned the old one must pin the new one).
	Generated bool `json:"generated,omitempty"`
	// CertFile and KeyFile are where the certificate lives (files and
	// self_signed modes).
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
}

// Notice is the one line to print on stderr at start-up so that an operator
// can give clients the fingerprint to pin ("" when there is nothing to pin).
func (i Info) Notice() string {
	if i.Fingerprint == "" {
		return ""
	}
	what := "TLS certificate"
	if i.Mode == config.TLSSelfSigned {
		what = "self-signed TLS certificate"
		if i.Generated {
			what = "new self-signed TLS certificate"
		}
	}
	return fmt.Sprintf("izwi: %s for %s, valid until %s, SHA-256 fingerprint %s",
		what, strings.Join(i.Hosts, ", "), i.NotAfter.UTC().Format(time.DateOnly), i.Fingerprint)
}

// options are Build's knobs that only tests turn.
type options struct {
	now func() time.Time
}

// Build returns the TLS configuration for the public and admin listeners,
// or (nil, Info{Mode: "off"}, nil) when cfg.Mode is off. It logs the
// certificate's fingerprint (never key material). Wrap a listener with
// tls.NewListener(ln, c) or set http.Server.TLSConfig and call ServeTLS(ln, "", "").
func Build(cfg config.TLS, dataDir string, logger *slog.Logger) (*tls.Config, Info, error) {
	return build(cfg, dataDir, logger, options{now: time.Now})
}

func build(cfg config.TLS, dataDir string, logger *slog.Logger, o options) (*tls.Config, Info, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mode := cfg.Mode
	if mode == "" {
		mode = config.TLSOff
	}
	var (
		c    *tls.Config
		info Info
		err  error
	)
	switch mode {
	case config.TLSOff:
		return nil, Info{Mode: config.TLSOff}, nil
	case config.TLSFiles:
		c, info, err = fromFiles(cfg.CertFile, cfg.KeyFile, o.now, logger)
	case config.TLSSelfSigned:
		c, info, err = selfSigned(dataDir, cfg.Hosts, o.now(), logger)
	case config.TLSACME:
		c, info, err = acmeConfig(cfg, dataDir)
	default:
		return nil, Info{}, fmt.Errorf("tlsconf: unknown mode %q", mode)
	}
	if err != nil {
		return nil, Info{}, err
	}
	info.Mode = mode
	harden(c)
	logger.Info("tls ready", "mode", mode, "fingerprint_sha256", info.Fingerprint,
		"not_after", info.NotAfter, "hosts", info.Hosts, "generated", info.Generated)
	return c, info, nil
}

// Suites12 are the only TLS 1.2 cipher suites offered: ECDHE key exchange
// (forward secrecy) with AEAD ciphers. No CBC, no RSA key exchange, no
// 3DES or RC4. TLS 1.3 suites are all AEAD and not configurable in Go.
func Suites12() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// Curves are the key-exchange groups offered, best first: the hybrid
// post-quantum X25519MLKEM768 (itself X25519-based; TLS 1.3 only), then
// X25519 and P-256.
func Curves() []tls.CurveID {
	return []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
}

// harden applies the version, suite and curve policy to c. Go negotiates the
// highest version both sides speak, so TLS 1.3 is used whenever the client
// can.
func harden(c *tls.Config) {
	c.MinVersion = tls.VersionTLS12
	c.MaxVersion = 0 // newest Go supports (1.3)
	c.CipherSuites = Suites12()
	c.CurvePreferences = Curves()
	if len(c.NextProtos) == 0 {
		c.NextProtos = []string{"h2", "http/1.1"}
	}
}

// HSTS sets Strict-Transport-Security on responses to requests that came in
// over TLS. On plain HTTP the header is meaningless (RFC 6797 §7.2) and is
// not sent.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", HSTSValue)
		}
		next.ServeHTTP(w, r)
	})
}

// Fingerprint formats the SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// checkValidity refuses a certificate outside its validity window.
func checkValidity(leaf *x509.Certificate, now time.Time, what string) error {
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("tlsconf: %s expired on %s; renew it", what, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("tlsconf: %s is not valid until %s; check the clock or the certificate", what, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// IsLooseKey reports whether err is a refusal of a private key file that
// other users can read.
func IsLooseKey(err error) bool { return errors.Is(err, secrets.ErrLoosePermissions) }
