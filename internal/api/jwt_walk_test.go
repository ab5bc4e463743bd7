package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/jwt"
	"github.com/izwi-speech/izwi/internal/config"
)

// The same walk with JWT callers: a token from a trusted issuer gets its
// mapped scopes, nothing more; expired or wrong-audience tokens are 401.
func TestRouteTableWalkJWT(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	path := filepath.Join(t.TempDir(), "hs256")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	ja, err := jwt.New(config.JWT{Issuers: []config.JWTIssuer{{Issuer: "https://idp.example", Audience: "izwi",
		Keys: []config.JWTKey{{Alg: "HS256", SecretFile: path}}}}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newGW(t)
	g.opts.Authenticator = auth.Chain{&auth.KeyAuthenticator{Keys: g.keys}, ja}
	routes := allRoutes(g)
	h, err := newHandler(g.opts, routes)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, h)
	token := func(aud string, exp time.Duration, scope string) string {
		s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, gojwt.MapClaims{"iss": "https://idp.example", "aud": aud,
			"sub": "user-1", "exp": time.Now().Add(exp).Unix(), "scope": scope}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, rt := range routes {
		kind, scope, _ := rt.Access.parse()
		path := strings.ReplaceAll(rt.Pattern, "{id}", "aaaaaaaaaaaa")
		lacking := "tts.read"
		if scope == auth.ScopeTTSRead {
			lacking = "asr.read"
		}
		with := string(scope)
		if with == "" || kind == "metrics" {
			with = "admin"
		}
		for _, c := range []struct {
			name, tok string
			want      apierr.Code
		}{
			{"expired", token("izwi", -time.Hour, with), apierr.CodeUnauthenticated},
			{"wrong audience", token("other", time.Hour, with), apierr.CodeUnauthenticated},
			{"lacking the scope", token("izwi", time.Hour, lacking), map[string]apierr.Code{"scope": apierr.CodeForbidden,
				"ticket": apierr.CodeForbidden, "metrics": apierr.CodeForbidden}[kind]},
			{"with the scope", token("izwi", time.Hour, with), ""},
		} {
			if kind == "public" {
				c.want = ""
			}
			resp, b := do(t, rt.Method, base+path, bearer(c.tok), "")
			got := errCode(b)
			name := rt.Method + " " + rt.Pattern + " / JWT " + c.name
			if c.want == "" && (resp.StatusCode == 401 || resp.StatusCode == 403) {
				t.Errorf("%s: refused %d %s", name, resp.StatusCode, got)
			}
			if c.want != "" && (got != c.want || resp.StatusCode != apierr.Lookup(c.want).Status) {
				t.Errorf("%s: %d %q, want %q", name, resp.StatusCode, got, c.want)
			}
		}
	}
}
