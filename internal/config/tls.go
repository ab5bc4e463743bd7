package config

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
)

// TLS modes.
const (
	TLSOff        = "off"         // plain HTTP; loopback only unless server.allow_insecure_http
	TLSFiles      = "files"       // cert_file + key_file (PEM)
	TLSSelfSigned = "self_signed" // ECDSA P-256 certificate made on first start under <data>/tls
	TLSACME       = "acme"        // Let's Encrypt (or another ACME CA) via TLS-ALPN-01
)

// TLS configures TLS for the public and admin listeners. With a mode other
// than off, both listeners speak only TLS (1.2 minimum, 1.3 preferred).
type TLS struct {
	// Mode is off, files, self_signed or acme (IZWI_TLS_MODE). Default off.
	Mode string `json:"mode,omitempty" toml:"mode"`
	// CertFile and KeyFile are PEM files for mode files (IZWI_TLS_CERT_FILE,
	// IZWI_TLS_KEY_FILE). The key file must be 0600 or stricter.
	CertFile string `json:"cert_file,omitempty" toml:"cert_file"`
	KeyFile  string `json:"key_file,omitempty" toml:"key_file"`
	// Hosts are the DNS names (and, for self_signed, IP addresses) clients
	// use (IZWI_TLS_HOSTS, comma-separated). self_signed adds localhost,
	// 127.0.0.1 and ::1; acme needs at least one DNS name and answers for
	// no other.
	Hosts []string `json:"hosts,omitempty" toml:"hosts"`
	// ACMEEmail is the contact address given to the ACME CA (IZWI_TLS_ACME_EMAIL).
	ACMEEmail string `json:"acme_email,omitempty" toml:"acme_email"`
	// ACMECacheDir keeps ACME account keys and certificates (0700).
	// Default <data dir>/tls/acme (IZWI_TLS_ACME_CACHE_DIR).
	ACMECacheDir string `json:"acme_cache_dir,omitempty" toml:"acme_cache_dir"`
	// ACMEDirectoryURL is the ACME CA's directory; empty means Let's
	// Encrypt. Set it for a venue's own CA (step-ca, smallstep, Pebble)
	// (IZWI_TLS_ACME_DIRECTORY_URL). Must be https.
	ACMEDirectoryURL string `json:"acme_directory_url,omitempty" toml:"acme_directory_url"`
	// ACMECAFile is a PEM bundle of extra roots to trust when talking to
	// that CA, added to the system roots (IZWI_TLS_ACME_CA_FILE).
	ACMECAFile string `json:"acme_ca_file,omitempty" toml:"acme_ca_file"`
	// HSTS sends Strict-Transport-Security on TLS listeners (IZWI_TLS_HSTS).
	// Default true; it never applies to plain HTTP.
	HSTS *bool `json:"hsts,omitempty" toml:"hsts"`
}

// Enabled reports whether the listeners serve TLS.
func (x TLS) Enabled() bool { return x.Mode != "" && x.Mode != TLSOff }

// HSTSEnabled reports whether HSTS is on (the default).
func (x TLS) HSTSEnabled() bool { return x.HSTS == nil || *x.HSTS }

// defaults fills empty fields with their defaults. Paths are cleaned so that
// "./data/tls/acme" and the derived "data/tls/acme" compare equal.
func (x TLS) defaults(c Config) TLS {
	if x.Mode == "" {
		x.Mode = TLSOff
	}
	x.Mode = strings.ToLower(x.Mode)
	dir := c.Data.Dir
	if dir == "" {
		dir = DefaultDataDir
	}
	if x.ACMECacheDir == "" {
		x.ACMECacheDir = filepath.Join(dir, "tls", "acme")
	}
	x.ACMECacheDir = filepath.Clean(x.ACMECacheDir)
	if x.HSTS == nil {
		on := true
		x.HSTS = &on
	}
	if len(x.Hosts) == 0 {
		x.Hosts = nil // "hosts = []" and no key mean the same
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x TLS) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: tls."+format, a...)) }
	switch x.Mode {
	case TLSOff:
		if x.CertFile != "" || x.KeyFile != "" {
			bad("cert_file/key_file are set but tls.mode is off; set mode = \"files\" to use them")
		}
	case TLSFiles:
		if x.CertFile == "" || x.KeyFile == "" {
			bad("mode files needs both cert_file and key_file")
		}
	case TLSSelfSigned:
		if x.CertFile != "" || x.KeyFile != "" {
			bad("cert_file/key_file are for mode files; self_signed keeps its own under <data dir>/tls")
		}
	case TLSACME:
		dns := 0
		for _, h := range x.Hosts {
			if isDNSName(h) {
				dns++
			}
		}
		if dns == 0 {
			bad("mode acme needs hosts: the public DNS names to request certificates for")
		}
		if x.ACMEDirectoryURL != "" {
			if u, err := url.Parse(x.ACMEDirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
				bad("acme_directory_url %q: want an https URL", x.ACMEDirectoryURL)
			}
		}
		if x.ACMEEmail != "" {
			if a, err := mail.ParseAddress(x.ACMEEmail); err != nil || a.Address != x.ACMEEmail {
				bad("acme_email %q is not an e-mail address", x.ACMEEmail)
			}
		}
	default:
		bad("mode %q: want off, files, self_signed or acme", x.Mode)
	}
	for _, h := range x.Hosts {
		if !validHost(h) {
			bad("hosts: %q is not a DNS name or IP address", h)
		} else if x.Mode == TLSACME && !isDNSName(h) {
			bad("hosts: %q: ACME certificates are for DNS names only", h)
		}
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *TLS) applyEnv(e envReader) {
	e.String("IZWI_TLS_MODE", &x.Mode)
	e.String("IZWI_TLS_CERT_FILE", &x.CertFile)
	e.String("IZWI_TLS_KEY_FILE", &x.KeyFile)
	if v, ok := e.get("IZWI_TLS_HOSTS"); ok {
		x.Hosts = nil
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				x.Hosts = append(x.Hosts, h)
			}
		}
	}
	e.String("IZWI_TLS_ACME_EMAIL", &x.ACMEEmail)
	e.String("IZWI_TLS_ACME_CACHE_DIR", &x.ACMECacheDir)
	e.String("IZWI_TLS_ACME_DIRECTORY_URL", &x.ACMEDirectoryURL)
	e.String("IZWI_TLS_ACME_CA_FILE", &x.ACMECAFile)
	if _, ok := e.get("IZWI_TLS_HSTS"); ok {
		var b bool
		e.Bool("IZWI_TLS_HSTS", &b)
		x.HSTS = &b
	}
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x TLS) envVars() []string {
	return []string{"IZWI_TLS_MODE", "IZWI_TLS_CERT_FILE", "IZWI_TLS_KEY_FILE", "IZWI_TLS_HOSTS",
		"IZWI_TLS_ACME_EMAIL", "IZWI_TLS_ACME_CACHE_DIR", "IZWI_TLS_ACME_DIRECTORY_URL", "IZWI_TLS_ACME_CA_FILE", "IZWI_TLS_HSTS"}
}

// validHost accepts an IP address or a DNS name (no wildcards: a
// self-signed or ACME certificate names hosts exactly).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return isDNSName(h)
}

// isDNSName checks RFC 1123 labels; an IP address is not a DNS name.
func isDNSName(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil || h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
