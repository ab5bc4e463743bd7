package jwt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

func TestStartupRefusesWeakKeys(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	write := func(name string, b []byte) string { p := filepath.Join(dir, name); writeFile(t, p, b); return p }
	short := write("short", []byte(strings.Repeat("x", 31)+"\n"))
	s48 := write("s48", []byte(strings.Repeat("x", 48)))
	s64 := write("s64", []byte(strings.Repeat("x", 64)))
	rsaPEM := write("rsa.pem", pemOf(t, k.rsa.pub))
	ecPEM := write("ec.pem", pemOf(t, k.es256.pub))
	priv := write("priv.pem", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	for name, tc := range map[string]struct {
		key config.JWTKey
		ok  bool
	}{
		"HS256 31 bytes":   {config.JWTKey{Alg: "HS256", SecretFile: short}, false},
		"HS512 48 bytes":   {config.JWTKey{Alg: "HS512", SecretFile: s48}, false},
		"HS384 48 bytes":   {config.JWTKey{Alg: "HS384", SecretFile: s48}, true},
		"HS512 64 bytes":   {config.JWTKey{Alg: "HS512", SecretFile: s64}, true},
		"ES256 with RSA":   {config.JWTKey{Alg: "ES256", PEMFile: rsaPEM}, false},
		"ES384 with P-256": {config.JWTKey{Alg: "ES384", PEMFile: ecPEM}, false},
		"RS256 with EC":    {config.JWTKey{Alg: "RS256", PEMFile: ecPEM}, false},
		"EdDSA with EC":    {config.JWTKey{Alg: "EdDSA", PEMFile: ecPEM}, false},
		"HS256 with PEM":   {config.JWTKey{Alg: "HS256", PEMFile: rsaPEM}, false},
		"none":             {config.JWTKey{Alg: "none", PEMFile: rsaPEM}, false},
		"private key":      {config.JWTKey{Alg: "RS256", PEMFile: priv}, false},
		"missing file":     {config.JWTKey{Alg: "RS256", PEMFile: filepath.Join(dir, "nope")}, false},
		"RS256 ok":         {config.JWTKey{Alg: "RS256", PEMFile: rsaPEM}, true},
	} {
		is := config.JWTIssuer{Issuer: "i", Audience: "a", Keys: []config.JWTKey{tc.key}}
		_, err := New(config.JWT{Issuers: []config.JWTIssuer{is}}, nil, nil, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "xxxxxxxx") {
			t.Errorf("%s: error leaks the secret: %v", name, err)
		}
	}
	_ = os.Remove(short)
}

func TestConfigValidation(t *testing.T) {
	base := config.JWTIssuer{Issuer: "i", Audience: "a", JWKSURL: "https://login.example/jwks"}
	for name, tc := range map[string]struct {
		mut func(*config.JWT)
		ok  bool
	}{
		"jwks https":        {func(*config.JWT) {}, true},
		"jwks loopback":     {func(c *config.JWT) { c.Issuers[0].JWKSURL = "http://127.0.0.1:9/jwks" }, true},
		"jwks plain http":   {func(c *config.JWT) { c.Issuers[0].JWKSURL = "http://login.example/jwks" }, false},
		"jwks userinfo":     {func(c *config.JWT) { c.Issuers[0].JWKSURL = "https://u:p@login.example/jwks" }, false},
		"jwks and keys":     {func(c *config.JWT) { c.Issuers[0].Keys = []config.JWTKey{{Alg: "HS256", SecretFile: "x"}} }, false},
		"no audience":       {func(c *config.JWT) { c.Issuers[0].Audience = "" }, false},
		"duplicate issuer":  {func(c *config.JWT) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, false},
		"jwks HS allowed":   {func(c *config.JWT) { c.Issuers[0].Algorithms = []string{"HS256"} }, false},
		"jwks none allowed": {func(c *config.JWT) { c.Issuers[0].Algorithms = []string{"none"} }, false},
		"typ":               {func(c *config.JWT) { c.Issuers[0].Typ = "ticket" }, false},
		"leeway 60s":        {func(c *config.JWT) { c.Leeway = config.Duration(time.Minute) }, true},
		"leeway 61s":        {func(c *config.JWT) { c.Leeway = config.Duration(61 * time.Second) }, false},
		"ticket ttl 61s":    {func(c *config.JWT) { c.Tickets.TTL = config.Duration(61 * time.Second) }, false},
		"bad origin":        {func(c *config.JWT) { c.Tickets.AllowedOrigins = []string{"venue.example"} }, false},
		"origin with path":  {func(c *config.JWT) { c.Tickets.AllowedOrigins = []string{"https://venue.example/x"} }, false},
		"good origin":       {func(c *config.JWT) { c.Tickets.AllowedOrigins = []string{"https://venue.example:8443"} }, true},
	} {
		c := config.JWT{Issuers: []config.JWTIssuer{base}}
		tc.mut(&c)
		err := config.Config{JWT: c}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	loose, tight := filepath.Join(dir, "loose"), filepath.Join(dir, "tight")
	writeFile(t, loose, []byte(strings.Repeat("s", 32)))
	writeFile(t, tight, []byte(strings.Repeat("s", 32)))
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.JWT{Leeway: config.Duration(45 * time.Second), Issuers: []config.JWTIssuer{
		{Issuer: "a", Audience: "x", Keys: []config.JWTKey{{Alg: "HS256", SecretFile: loose}, {Alg: "HS384", SecretFile: tight}}},
		{Issuer: "b", Audience: "x", JWKSURL: "http://127.0.0.1:1/jwks"},
	}, Tickets: config.Tickets{AllowedOrigins: []string{"http://venue.example", "http://localhost:3000", "https://ok.example"}}}
	w := strings.Join(Warnings(cfg), "\n")
	for _, want := range []string{loose, "plain http (loopback only)", "leeway 45s", "http://venue.example"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	for _, not := range []string{tight, "localhost:3000", "ok.example", "ssss"} {
		if strings.Contains(w, not) {
			t.Errorf("warnings mention %q:\n%s", not, w)
		}
	}
}

func TestEnvironment(t *testing.T) {
	env := map[string]string{"IZWI_JWT_LEEWAY": "10s", "IZWI_TICKET_TTL": "15s",
		"IZWI_TICKET_ALLOWED_ORIGINS": "https://a.example, http://localhost:3000", "IZWI_JWT_JWKS_MIN_REFRESH": "1m"}
	c, _, err := config.Load(config.Source{Path: filepath.Join("..", "..", "..", "izwi.example.toml"),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	j := c.Defaults().JWT
	if j.Leeway.Std() != 10*time.Second || j.Tickets.TTL.Std() != 15*time.Second || j.JWKSMinRefresh.Std() != time.Minute ||
		!slices.Equal(j.Tickets.AllowedOrigins, []string{"https://a.example", "http://localhost:3000"}) {
		t.Fatalf("env not applied: %+v", j)
	}
	for _, v := range []string{"IZWI_JWT_LEEWAY", "IZWI_TICKET_TTL", "IZWI_TICKET_ALLOWED_ORIGINS"} {
		if !slices.Contains(config.EnvVars(), v) {
			t.Errorf("EnvVars lacks %s", v)
		}
	}
}
