package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// JWT limits (RFC 8725 guidance and the Live STT seed's ticket auth).
const (
	// MaxJWTLeeway bounds the clock skew allowed on exp, nbf and iat.
	MaxJWTLeeway = 60 * time.Second
	// MaxTicketTTL bounds how long a WebSocket ticket lives.
	MaxTicketTTL = 60 * time.Second
)

// JWTAlgorithms lists the JWS algorithms Izwi verifies; "none" is never one.
func JWTAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}
}

// JWT configures trusted JWT issuers and WebSocket tickets.
type JWT struct {
	// Issuers whose tokens are accepted as `Authorization: Bearer <jwt>`.
	// None by default: JWT authentication is off.
	Issuers []JWTIssuer `json:"issuers,omitempty" toml:"issuers"`
	// Leeway is the clock skew allowed on exp, nbf and iat (at most 60s;
	// IZWI_JWT_LEEWAY). Default 30s.
	Leeway Duration `json:"leeway,omitempty" toml:"leeway"`
	// JWKSMinRefresh is the rate window: an unknown kid refetches an issuer's
	// JWKS at most once per window (IZWI_JWT_JWKS_MIN_REFRESH). Default 5m.
	JWKSMinRefresh Duration `json:"jwks_min_refresh,omitempty" toml:"jwks_min_refresh"`
	// JWKSMaxAge is how long a fetched JWKS is used before it is refetched
	// (IZWI_JWT_JWKS_MAX_AGE). Default 1h.
	JWKSMaxAge Duration `json:"jwks_max_age,omitempty" toml:"jwks_max_age"`
	// Tickets configures single-use WebSocket tickets.
	Tickets Tickets `json:"tickets" toml:"tickets"`
}

// JWTIssuer is one trusted issuer: either a JWKS URL or static keys.
type JWTIssuer struct {
	// Issuer must equal the token's iss claim.
	Issuer string `json:"issuer" toml:"issuer"`
	// Audience must be one of the token's aud values.
	Audience string `json:"audience" toml:"audience"`
	// JWKSURL is an https URL serving the issuer's public keys.
	JWKSURL string `json:"jwks_url,omitempty" toml:"jwks_url"`
	// Algorithms allowed for JWKS keys; a JWK that names another alg is
	// ignored. Default ["RS256", "ES256", "EdDSA"]. HS* is never taken from a JWKS.
	Algorithms []string `json:"algorithms,omitempty" toml:"algorithms"`
	// Keys are static verification keys, each bound to one algorithm.
	Keys []JWTKey `json:"keys,omitempty" toml:"keys"`
	// ScopesClaim names the claim mapped to Izwi scopes: a space-separated
	// string or an array of strings. Default "scope".
	ScopesClaim string `json:"scopes_claim,omitempty" toml:"scopes_claim"`
	// SubjectClaim names the claim identifying the caller. Default "sub".
	SubjectClaim string `json:"subject_claim,omitempty" toml:"subject_claim"`
	// Typ is the token type required in the header: "jwt" (typ absent or
	// "JWT", the default) or "at+jwt" (RFC 9068 access tokens).
	Typ string `json:"typ,omitempty" toml:"typ"`
}

// JWTKey is one static verification key.
type JWTKey struct {
	// KID matches the token header's kid; optional when an issuer has one
	// key per algorithm.
	KID string `json:"kid,omitempty" toml:"kid"`
	// Alg is the one algorithm this key verifies (RS256, ES256, EdDSA, HS256…).
	Alg string `json:"alg" toml:"alg"`
	// PEMFile holds a PEM public key (RS*, PS*, ES*, EdDSA).
	PEMFile string `json:"pem_file,omitempty" toml:"pem_file"`
	// SecretFile holds an HMAC secret of at least 256 bits (HS*); a trailing
	// newline is ignored. Izwi refuses to start with a shorter one.
	SecretFile string `json:"secret_file,omitempty" toml:"secret_file"`
}

// Tickets configures single-use WebSocket tickets (POST /v1/tickets).
type Tickets struct {
	// TTL is how long a ticket lives, at most 60s (IZWI_TICKET_TTL). Default 30s.
	TTL Duration `json:"ttl,omitempty" toml:"ttl"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// to open WebSockets and to have tickets bound to them
	// (IZWI_TICKET_ALLOWED_ORIGINS, comma-separated). Default none.
	AllowedOrigins []string `json:"allowed_origins,omitempty" toml:"allowed_origins"`
	// MaxOutstanding bounds unexpired tickets held in memory
	// (IZWI_TICKET_MAX_OUTSTANDING). Default 10000.
	MaxOutstanding int `json:"max_outstanding,omitempty" toml:"max_outstanding"`
}

// defaults fills empty fields with their defaults.
func (x JWT) defaults(c Config) JWT {
	if x.Leeway == 0 {
		x.Leeway = Duration(30 * time.Second)
	}
	if x.JWKSMinRefresh == 0 {
		x.JWKSMinRefresh = Duration(5 * time.Minute)
	}
	if x.JWKSMaxAge == 0 {
		x.JWKSMaxAge = Duration(time.Hour)
	}
	if len(x.Issuers) == 0 {
		x.Issuers = nil
	} else {
		x.Issuers = append([]JWTIssuer(nil), x.Issuers...)
	}
	for i := range x.Issuers {
		is := &x.Issuers[i]
		if is.ScopesClaim == "" {
			is.ScopesClaim = "scope"
		}
		if is.SubjectClaim == "" {
			is.SubjectClaim = "sub"
		}
		if is.Typ == "" {
			is.Typ = "jwt"
		}
		if is.JWKSURL != "" && len(is.Algorithms) == 0 {
			is.Algorithms = []string{"RS256", "ES256", "EdDSA"}
		}
	}
	if x.Tickets.TTL == 0 {
		x.Tickets.TTL = Duration(30 * time.Second)
	}
	if len(x.Tickets.AllowedOrigins) == 0 {
		x.Tickets.AllowedOrigins = nil
	}
	if x.Tickets.MaxOutstanding == 0 {
		x.Tickets.MaxOutstanding = 10000
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x JWT) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: jwt."+format, a...)) }
	if x.Leeway < 0 || x.Leeway.Std() > MaxJWTLeeway {
		bad("leeway %v: want 0..60s", x.Leeway.Std())
	}
	if x.JWKSMinRefresh < 0 || x.JWKSMaxAge < 0 || x.JWKSMaxAge < x.JWKSMinRefresh {
		bad("jwks_min_refresh %v / jwks_max_age %v: want 0 <= min_refresh <= max_age", x.JWKSMinRefresh.Std(), x.JWKSMaxAge.Std())
	}
	seen := map[string]bool{}
	for i, is := range x.Issuers {
		p := fmt.Sprintf("issuers[%d]", i)
		if is.Issuer == "" || is.Audience == "" {
			bad("%s: issuer and audience are required", p)
		}
		if seen[is.Issuer] {
			bad("%s: issuer %q listed twice", p, is.Issuer)
		}
		seen[is.Issuer] = true
		if (is.JWKSURL == "") == (len(is.Keys) == 0) {
			bad("%s: set exactly one of jwks_url or keys", p)
		}
		if is.JWKSURL != "" {
			if err := CheckJWKSURL(is.JWKSURL); err != nil {
				errs = append(errs, fmt.Errorf("config: jwt.%s: %w", p, err))
			}
		}
		for _, a := range is.Algorithms {
			if !knownAlg(a) || strings.HasPrefix(a, "HS") {
				bad("%s.algorithms: %q is not an asymmetric algorithm Izwi verifies", p, a)
			}
		}
		if is.Typ != "jwt" && is.Typ != "at+jwt" {
			bad("%s.typ %q: want jwt or at+jwt", p, is.Typ)
		}
		kids := map[string]bool{}
		for j, k := range is.Keys {
			kp := fmt.Sprintf("%s.keys[%d]", p, j)
			if !knownAlg(k.Alg) {
				bad("%s.alg %q: want one of %s", kp, k.Alg, strings.Join(JWTAlgorithms(), ", "))
			}
			hmac := strings.HasPrefix(k.Alg, "HS")
			if hmac && (k.SecretFile == "" || k.PEMFile != "") || !hmac && (k.PEMFile == "" || k.SecretFile != "") {
				bad("%s: %s needs %s", kp, k.Alg, map[bool]string{true: "secret_file only", false: "pem_file only"}[hmac])
			}
			id := k.KID + "\x00" + k.Alg
			if kids[id] {
				bad("%s: kid %q with alg %s listed twice", kp, k.KID, k.Alg)
			}
			kids[id] = true
		}
	}
	t := x.Tickets
	if t.TTL <= 0 || t.TTL.Std() > MaxTicketTTL {
		bad("tickets.ttl %v: want 1ns..60s", t.TTL.Std())
	}
	if t.MaxOutstanding < 0 {
		bad("tickets.max_outstanding %d is negative", t.MaxOutstanding)
	}
	for _, o := range t.AllowedOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("config: jwt.tickets.allowed_origins: %w", err))
		}
	}
	return errs
}

func knownAlg(a string) bool {
	for _, k := range JWTAlgorithms() {
		if a == k {
			return true
		}
	}
	return false
}

// CheckJWKSURL accepts https URLs, and http only to a loopback host (tests,
// a sidecar on the same machine).
func CheckJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("jwks_url: %w", err)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("jwks_url %q: want https://host/path without credentials", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && netpolicy.LoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("jwks_url %q: must be https (plain http only to loopback)", raw)
}

// NormalizeOrigin returns a browser origin as scheme://host[:port] in lower
// case with the default port dropped, or an error if o is not an origin.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port]", o)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}

// applyEnv reads this section's IZWI_* variables.
func (x *JWT) applyEnv(e envReader) {
	e.Duration("IZWI_JWT_LEEWAY", &x.Leeway)
	e.Duration("IZWI_JWT_JWKS_MIN_REFRESH", &x.JWKSMinRefresh)
	e.Duration("IZWI_JWT_JWKS_MAX_AGE", &x.JWKSMaxAge)
	e.Duration("IZWI_TICKET_TTL", &x.Tickets.TTL)
	e.Int("IZWI_TICKET_MAX_OUTSTANDING", &x.Tickets.MaxOutstanding)
	var origins string
	e.String("IZWI_TICKET_ALLOWED_ORIGINS", &origins)
	if origins != "" {
		x.Tickets.AllowedOrigins = nil
		for _, o := range strings.Split(origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				x.Tickets.AllowedOrigins = append(x.Tickets.AllowedOrigins, o)
			}
		}
	}
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x JWT) envVars() []string {
	return []string{"IZWI_JWT_LEEWAY", "IZWI_JWT_JWKS_MIN_REFRESH", "IZWI_JWT_JWKS_MAX_AGE",
		"IZWI_TICKET_TTL", "IZWI_TICKET_MAX_OUTSTANDING", "IZWI_TICKET_ALLOWED_ORIGINS"}
}
