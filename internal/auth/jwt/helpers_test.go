package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/config"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Unix(1_900_000_000, 0)) }

// signer is a private key with the algorithm it signs.
type signer struct {
	alg  string
	kid  string
	priv any
	pub  any
}

// testKeys are generated once per test binary run (RSA is slow).
type testKeys struct {
	rsa, ps, es256, es384, ed, hs signer
}

var keysOnce = sync.OnceValue(func() testKeys {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	e256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	epub, epriv, _ := ed25519.GenerateKey(rand.Reader)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	// Secret files are text: the reader trims a trailing newline, so a random
	// secret ending in \r or \n would lose a byte (and fall below 256 bits).
	secret[len(secret)-1] |= 0x80
	return testKeys{
		rsa:   signer{"RS256", "rsa1", rk, &rk.PublicKey},
		ps:    signer{"PS256", "ps1", rk, &rk.PublicKey},
		es256: signer{"ES256", "ec1", e256, &e256.PublicKey},
		es384: signer{"ES384", "ec2", e384, &e384.PublicKey},
		ed:    signer{"EdDSA", "ed1", epriv, epub},
		hs:    signer{"HS256", "hs1", secret, secret},
	}
})

func (k testKeys) all() []signer { return []signer{k.rsa, k.ps, k.es256, k.es384, k.ed, k.hs} }

const (
	testIss = "https://issuer.test/"
	testAud = "izwi"
)

// mintRaw signs exactly the header and payload JSON given, so tests can
// craft duplicates, crit, jku and other hostile headers.
func mintRaw(t testing.TB, s signer, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := gojwt.GetSigningMethod(s.alg)
	if m == nil {
		t.Fatalf("no signing method %s", s.alg)
	}
	sig, err := m.Sign(in, s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

// mint signs header members h (alg and kid from s unless h sets them) and
// claims c (defaults: iss, aud, sub, exp one hour ahead of now).
func mint(t testing.TB, s signer, now time.Time, h map[string]any, c map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": s.alg, "typ": "JWT", "kid": s.kid}
	for k, v := range h {
		if v == nil {
			delete(hdr, k)
		} else {
			hdr[k] = v
		}
	}
	cl := map[string]any{"iss": testIss, "aud": testAud, "sub": "alice", "exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(), "scope": "asr.read live.read"}
	for k, v := range c {
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
	}
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(cl)
	return mintRaw(t, s, string(hb), string(cb))
}

// staticIssuer writes each signer's public key or secret to a file and
// returns an issuer trusting them.
func staticIssuer(t testing.TB, signers ...signer) config.JWTIssuer {
	t.Helper()
	dir := t.TempDir()
	is := config.JWTIssuer{Issuer: testIss, Audience: testAud}
	for i, s := range signers {
		p := filepath.Join(dir, s.kid+string(rune('a'+i)))
		k := config.JWTKey{KID: s.kid, Alg: s.alg}
		if b, ok := s.pub.([]byte); ok {
			writeFile(t, p, append(append([]byte(nil), b...), '\n'))
			k.SecretFile = p
		} else {
			writeFile(t, p, pemOf(t, s.pub))
			k.PEMFile = p
		}
		is.Keys = append(is.Keys, k)
	}
	return is
}

func pemOf(t testing.TB, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newAuth(t testing.TB, clk *clocktest.Clock, client *http.Client, issuers ...config.JWTIssuer) *Authenticator {
	t.Helper()
	a, err := New(config.JWT{Issuers: issuers}, client, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/anything", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// mustReject asserts tok fails as invalid (or expired) credentials and that
// the error does not contain the token.
func mustReject(t *testing.T, a *Authenticator, tok string, want error) {
	t.Helper()
	p, err := a.Authenticate(bearer(tok))
	if err == nil {
		t.Fatalf("accepted: %+v", p)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if strings.Contains(err.Error(), tok) || (len(tok) > 40 && strings.Contains(err.Error(), tok[len(tok)-40:])) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func mustAccept(t *testing.T, a *Authenticator, tok string) auth.Principal {
	t.Helper()
	p, err := a.Authenticate(bearer(tok))
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	return p
}
