package jwt

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/izwi-speech/izwi/internal/config"
)

// Warnings reports weak or unsafe JWT and ticket settings for `izwi doctor`
// and start-up logs: HMAC secret files readable by group or others, plain
// http JWKS, a leeway above 30s, ticket origins over plain http off
// loopback. It never reads a secret's contents.
func Warnings(cfg config.JWT) []string {
	cfg = config.Config{JWT: cfg}.Defaults().JWT
	var out []string
	for _, is := range cfg.Issuers {
		for _, k := range is.Keys {
			if k.SecretFile == "" {
				continue
			}
			if fi, err := os.Stat(k.SecretFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
				out = append(out, fmt.Sprintf("jwt: issuer %q: HMAC secret file %s is readable by group or others (mode %v); chmod 600",
					is.Issuer, k.SecretFile, fi.Mode().Perm()))
			}
		}
		if strings.HasPrefix(is.JWKSURL, "http://") {
			out = append(out, fmt.Sprintf("jwt: issuer %q: jwks_url is plain http (loopback only)", is.Issuer))
		}
	}
	if cfg.Leeway.Std() > config.MaxJWTLeeway/2 {
		out = append(out, fmt.Sprintf("jwt: leeway %v is above 30s", cfg.Leeway.Std()))
	}
	for _, o := range cfg.Tickets.AllowedOrigins {
		u, err := url.Parse(o)
		if err == nil && u.Scheme == "http" && u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1" {
			out = append(out, fmt.Sprintf("jwt: tickets.allowed_origins %s is plain http off loopback", o))
		}
	}
	return out
}
