package jwt

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

func TestValidTokensEveryKeyFamily(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.all()...))
	for _, s := range k.all() {
		t.Run(s.alg, func(t *testing.T) {
			p := mustAccept(t, a, mint(t, s, clk.Now(), nil, nil))
			if p.Kind != auth.KindJWT || p.ID != testIss+"#alice" || p.Subject != "jwt:"+testIss+"#alice" {
				t.Fatalf("principal %+v", p)
			}
			if !slices.Equal(p.Scopes, []auth.Scope{auth.ScopeASRRead, auth.ScopeLiveRead}) {
				t.Fatalf("scopes %v", p.Scopes)
			}
			if !p.Expires.Equal(clk.Now().Add(time.Hour)) {
				t.Fatalf("expires %v", p.Expires)
			}
		})
	}
}

func TestNotMineIsNoCredentials(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.hs))
	for name, h := range map[string]string{
		"none":       "",
		"basic":      "Basic YWxpY2U6cHc=",
		"api key":    "Bearer izk_abc.def.ghi",
		"opaque":     "Bearer abcdef",
		"bad chars":  "Bearer a.b.c!",
		"two parts":  "Bearer eyJhbGciOiJIUzI1NiJ9.e30",
		"empty body": "Bearer eyJhbGciOiJIUzI1NiJ9..sig",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrNoCredentials) {
			t.Errorf("%s: %v, want ErrNoCredentials", name, err)
		}
	}
	none, err := New(config.JWT{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Authenticate(bearer(mint(t, k.hs, clk.Now(), nil, nil))); !errors.Is(err, auth.ErrNoCredentials) {
		t.Fatalf("no issuers configured: %v", err)
	}
}

// RFC 8725 §3.1/§3.2: alg none in any spelling, unsigned or signed.
func TestRejectAlgNone(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.hs, k.rsa))
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "", "hs256", "RS1"} {
		hb := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"alg":%q,"typ":"JWT"}`, alg))
		pb := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"eve","exp":%d,"scope":"admin"}`,
			testIss, testAud, clk.Now().Add(time.Hour).Unix()))
		for _, sig := range []string{"", "c2ln"} {
			mustReject(t, a, hb+"."+pb+"."+sig, auth.ErrInvalidCredentials)
		}
	}
}

// RFC 8725 §2.1: HS256 "signed" with the RSA/EC public key as HMAC secret.
func TestRejectHSWithPublicKey(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.rsa, k.es256))
	for _, s := range []signer{k.rsa, k.es256} {
		der, _ := x509.MarshalPKIXPublicKey(s.pub)
		for _, secret := range [][]byte{pemOf(t, s.pub), der} {
			forged := signer{alg: "HS256", kid: s.kid, priv: secret}
			mustReject(t, a, mint(t, forged, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
			forged.kid = ""
			mustReject(t, a, mint(t, forged, clk.Now(), map[string]any{"kid": nil}, nil), auth.ErrInvalidCredentials)
		}
	}
	// Each key verifies only its own alg: an RSA key bound to RS256 refuses PS256.
	mustReject(t, a, mint(t, signer{alg: "PS256", kid: k.rsa.kid, priv: k.rsa.priv}, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
}

func TestRejectKID(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.es256))
	for _, kid := range []string{"../../../../dev/null", "/etc/passwd", "' OR '1'='1", "ec1; DROP TABLE keys--",
		"ec1\x00", "..", "unknown", strings.Repeat("a", 200), "ec1 "} {
		s := k.es256
		mustReject(t, a, mint(t, s, clk.Now(), map[string]any{"kid": kid}, nil), auth.ErrInvalidCredentials)
	}
	mustReject(t, a, mint(t, k.es256, clk.Now(), map[string]any{"kid": 7}, nil), auth.ErrInvalidCredentials)
}

// RFC 8725 §3.10: jku, x5u, jwk, x5c must not make Izwi fetch or trust a key.
func TestRejectEmbeddedKeyHeadersWithoutFetching(t *testing.T) {
	k, clk := keysOnce(), newClock()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	a := newAuth(t, clk, srv.Client(), staticIssuer(t, k.es256))
	attacker := keysOnce().es384 // a key the issuer never configured
	jwkHdr := map[string]any{"kty": "EC", "crv": "P-384"}
	for name, h := range map[string]map[string]any{
		"jku": {"jku": srv.URL + "/jwks"},
		"x5u": {"x5u": srv.URL + "/cert"},
		"jwk": {"jwk": jwkHdr},
		"x5c": {"x5c": []string{"MIIB"}},
	} {
		for _, s := range []signer{k.es256, attacker} {
			tok := mint(t, s, clk.Now(), h, nil)
			if _, err := a.Authenticate(bearer(tok)); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("%s signed %s: %v", name, s.alg, err)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d outbound requests", n)
	}
}

func TestIssuerAndAudience(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.ed))
	for name, c := range map[string]map[string]any{
		"missing iss":  {"iss": nil},
		"wrong iss":    {"iss": "https://evil.test/"},
		"iss case":     {"iss": strings.ToUpper(testIss)},
		"missing aud":  {"aud": nil},
		"wrong aud":    {"aud": "other"},
		"aud list":     {"aud": []string{"a", "b"}},
		"aud not str":  {"aud": 5},
		"missing sub":  {"sub": nil},
		"empty sub":    {"sub": ""},
		"control sub":  {"sub": "a\nb"},
		"iss not str":  {"iss": 1},
		"aud in array": {"aud": []any{"x", 1}},
	} {
		t.Run(name, func(t *testing.T) { mustReject(t, a, mint(t, k.ed, clk.Now(), nil, c), auth.ErrInvalidCredentials) })
	}
	p := mustAccept(t, a, mint(t, k.ed, clk.Now(), nil, map[string]any{"aud": []string{"other", testAud}}))
	if p.ID != testIss+"#alice" {
		t.Fatal(p.ID)
	}
}

func TestTimeClaims(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.hs)) // default leeway 30s
	now := clk.Now()
	mustReject(t, a, mint(t, k.hs, now, nil, map[string]any{"exp": nil}), auth.ErrInvalidCredentials)
	mustReject(t, a, mint(t, k.hs, now, nil, map[string]any{"exp": "tomorrow"}), auth.ErrInvalidCredentials)
	mustReject(t, a, mint(t, k.hs, now, nil, map[string]any{"nbf": now.Add(31 * time.Second).Unix()}), auth.ErrInvalidCredentials)
	mustReject(t, a, mint(t, k.hs, now, nil, map[string]any{"iat": now.Add(31 * time.Second).Unix()}), auth.ErrInvalidCredentials)
	mustAccept(t, a, mint(t, k.hs, now, nil, map[string]any{"nbf": now.Add(29 * time.Second).Unix()}))

	tok := mint(t, k.hs, now, nil, map[string]any{"exp": now.Add(time.Minute).Unix()})
	mustAccept(t, a, tok)
	clk.Advance(time.Minute + 29*time.Second) // expired 29s ago: inside the leeway
	mustAccept(t, a, tok)
	clk.Advance(2 * time.Second)
	mustReject(t, a, tok, auth.ErrExpired)
}

func TestLeewayIsBounded(t *testing.T) {
	if _, err := New(config.JWT{Leeway: config.Duration(61 * time.Second)}, nil, nil, nil); err == nil {
		t.Fatal("leeway 61s accepted")
	}
	k, clk := keysOnce(), newClock()
	a, err := New(config.JWT{Leeway: config.Duration(time.Second), Issuers: []config.JWTIssuer{staticIssuer(t, k.hs)}}, nil, clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, k.hs, clk.Now(), nil, map[string]any{"exp": clk.Now().Unix()})
	clk.Advance(2 * time.Second)
	mustReject(t, a, tok, auth.ErrExpired)
}

// RFC 8725 §3.11: explicit typing, so a ticket or ID token is not an access token.
func TestTyp(t *testing.T) {
	k, clk := keysOnce(), newClock()
	plain := staticIssuer(t, k.es256)
	at := staticIssuer(t, k.es256)
	at.Issuer, at.Typ = "https://at.test/", "at+jwt"
	a := newAuth(t, clk, nil, plain, at)
	now := clk.Now()
	mustAccept(t, a, mint(t, k.es256, now, map[string]any{"typ": "JWT"}, nil))
	mustAccept(t, a, mint(t, k.es256, now, map[string]any{"typ": nil}, nil))
	for _, typ := range []any{"at+jwt", "ticket", "izwi-ticket+jwt", "id_token", "JOSE", 3} {
		mustReject(t, a, mint(t, k.es256, now, map[string]any{"typ": typ}, nil), auth.ErrInvalidCredentials)
	}
	atClaims := map[string]any{"iss": at.Issuer}
	mustAccept(t, a, mint(t, k.es256, now, map[string]any{"typ": "at+jwt"}, atClaims))
	mustAccept(t, a, mint(t, k.es256, now, map[string]any{"typ": "application/at+jwt"}, atClaims))
	for _, typ := range []any{nil, "JWT", "ticket"} {
		mustReject(t, a, mint(t, k.es256, now, map[string]any{"typ": typ}, atClaims), auth.ErrInvalidCredentials)
	}
}

func TestRejectCrit(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.es256))
	for _, crit := range []any{[]string{"exp"}, []string{"urn:example:x"}, []string{}, "b64"} {
		mustReject(t, a, mint(t, k.es256, clk.Now(), map[string]any{"crit": crit, "urn:example:x": true}, nil), auth.ErrInvalidCredentials)
	}
	mustReject(t, a, mint(t, k.es256, clk.Now(), map[string]any{"b64": false}, nil), auth.ErrInvalidCredentials)
}

// Duplicate members let two parsers read two different tokens; every one is
// validly signed here, so only the duplicate check can refuse them.
func TestRejectDuplicateMembers(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.hs))
	exp := clk.Now().Add(time.Hour).Unix()
	good := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","exp":%d,"scope":"asr.read"}`, testIss, testAud, exp)
	mustAccept(t, a, mintRaw(t, k.hs, `{"alg":"HS256","kid":"hs1"}`, good))
	for name, hp := range map[string][2]string{
		"header alg":         {`{"alg":"HS256","kid":"hs1","alg":"none"}`, good},
		"header escaped":     {`{"alg":"HS256","kid":"hs1","\u0061lg":"HS256"}`, good},
		"header kid":         {`{"alg":"HS256","kid":"hs1","kid":"x"}`, good},
		"payload sub":        {`{"alg":"HS256","kid":"hs1"}`, good[:len(good)-1] + `,"sub":"admin"}`},
		"payload scope":      {`{"alg":"HS256","kid":"hs1"}`, good[:len(good)-1] + `,"scope":"admin"}`},
		"payload nested":     {`{"alg":"HS256","kid":"hs1"}`, good[:len(good)-1] + `,"x":{"a":1,"a":2}}`},
		"payload in array":   {`{"alg":"HS256","kid":"hs1"}`, good[:len(good)-1] + `,"x":[{"a":1,"a":2}]}`},
		"trailing garbage":   {`{"alg":"HS256","kid":"hs1"}{}`, good},
		"payload not object": {`{"alg":"HS256","kid":"hs1"}`, `[1]`},
	} {
		t.Run(name, func(t *testing.T) { mustReject(t, a, mintRaw(t, k.hs, hp[0], hp[1]), auth.ErrInvalidCredentials) })
	}
}

func TestRejectTampering(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.all()...))
	for _, s := range k.all() {
		tok := mint(t, s, clk.Now(), nil, nil)
		parts := strings.Split(tok, ".")
		evil := mint(t, s, clk.Now(), nil, map[string]any{"scope": "admin"})
		forged := strings.Join([]string{parts[0], strings.Split(evil, ".")[1], parts[2]}, ".")
		mustReject(t, a, forged, auth.ErrInvalidCredentials)
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[len(sig)/2] ^= 1
		mustReject(t, a, parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(sig), auth.ErrInvalidCredentials)
	}
}

func TestScopeMapping(t *testing.T) {
	k, clk := keysOnce(), newClock()
	is := staticIssuer(t, k.hs)
	custom := staticIssuer(t, k.hs)
	custom.Issuer, custom.ScopesClaim, custom.SubjectClaim = "custom", "izwi_scopes", "email_id"
	a := newAuth(t, clk, nil, is, custom)
	for _, tc := range []struct {
		claims map[string]any
		want   []auth.Scope
	}{
		{map[string]any{"scope": "tts.read  bogus chat.read tts.read"}, []auth.Scope{auth.ScopeTTSRead, auth.ScopeChatRead}},
		{map[string]any{"scope": []string{"live.write", "nope"}}, []auth.Scope{auth.ScopeLiveWrite}},
		{map[string]any{"scope": nil}, nil},
		{map[string]any{"scope": 42}, nil},
		{map[string]any{"scope": "ADMIN"}, nil},
		{map[string]any{"iss": "custom", "izwi_scopes": []string{"admin"}, "scope": "asr.read", "email_id": "u1"}, []auth.Scope{auth.ScopeAdmin}},
	} {
		p := mustAccept(t, a, mint(t, k.hs, clk.Now(), nil, tc.claims))
		if !slices.Equal(p.Scopes, tc.want) {
			t.Errorf("%v: scopes %v, want %v", tc.claims, p.Scopes, tc.want)
		}
	}
	// The custom issuer's subject comes from its own claim.
	p := mustAccept(t, a, mint(t, k.hs, clk.Now(), nil, map[string]any{"iss": "custom", "email_id": "u1"}))
	if p.ID != "custom#u1" {
		t.Fatal(p.ID)
	}
}

func TestMultipleAuthorizationHeaders(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.hs))
	r := bearer(mint(t, k.hs, clk.Now(), nil, nil))
	r.Header.Add("Authorization", "Bearer "+mint(t, k.hs, clk.Now(), nil, map[string]any{"sub": "bob"}))
	if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatal(err)
	}
}

func TestUnknownScopesLoggedWithoutToken(t *testing.T) {
	k, clk := keysOnce(), newClock()
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(config.JWT{Issuers: []config.JWTIssuer{staticIssuer(t, k.hs)}}, nil, clk.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, k.hs, clk.Now(), nil, map[string]any{"scope": "asr.read superuser"})
	mustAccept(t, a, tok)
	mustReject(t, a, tok[:len(tok)-2]+"AA", auth.ErrInvalidCredentials)
	out := logs.String()
	if !strings.Contains(out, "superuser") || !strings.Contains(out, `"level":"DEBUG"`) {
		t.Fatalf("unknown scope not logged at debug: %s", out)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part) {
			t.Fatalf("log contains part of the token: %s", out)
		}
	}
}

func TestWebSocketProtocolToken(t *testing.T) {
	k, clk := keysOnce(), newClock()
	a := newAuth(t, clk, nil, staticIssuer(t, k.es256))
	r := httptest.NewRequest(http.MethodGet, "/v1/listen", nil)
	r.Header.Set("Sec-WebSocket-Protocol", "token, "+mint(t, k.es256, clk.Now(), nil, nil))
	if p, err := a.Authenticate(r); err != nil || p.ID != testIss+"#alice" {
		t.Fatalf("%+v %v", p, err)
	}
	r.Header.Set("Sec-WebSocket-Protocol", "token, "+mint(t, k.es256, clk.Now(), nil, map[string]any{"iss": "x"}))
	if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	r.Header.Set("Sec-WebSocket-Protocol", "token, izk_abc")
	if _, err := a.Authenticate(r); !errors.Is(err, auth.ErrNoCredentials) {
		t.Fatal(err)
	}
}
