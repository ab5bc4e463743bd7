package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

// jwksServer serves a JWK Set on 127.0.0.1:0 and counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	body    []byte
	status  int
	gate    chan struct{} // when set, each fetch waits on it
}

func newJWKSServer(t *testing.T, signers ...signer) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.set(jwksOf(t, signers...))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, gate := s.body, s.status, s.gate
		s.mu.Unlock()
		if gate != nil {
			<-gate
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(b []byte) { s.mu.Lock(); s.body = b; s.mu.Unlock() }

func jwksOf(t testing.TB, signers ...signer) []byte {
	enc := base64.RawURLEncoding.EncodeToString
	var keys []map[string]string
	for _, s := range signers {
		m := map[string]string{"kid": s.kid, "use": "sig"}
		switch p := s.pub.(type) {
		case *rsa.PublicKey:
			m["kty"], m["n"], m["e"], m["alg"] = "RSA", enc(p.N.Bytes()), enc(big.NewInt(int64(p.E)).Bytes()), s.alg
		case *ecdsa.PublicKey:
			b, _ := p.Bytes()
			size := (len(b) - 1) / 2
			m["kty"], m["crv"], m["x"], m["y"] = "EC", p.Curve.Params().Name, enc(b[1:1+size]), enc(b[1+size:])
		case ed25519.PublicKey:
			m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc(p)
		case []byte:
			m["kty"], m["k"], m["alg"] = "oct", enc(p), s.alg
		}
		keys = append(keys, m)
	}
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwksIssuer(url string) config.JWTIssuer {
	return config.JWTIssuer{Issuer: testIss, Audience: testAud, JWKSURL: url + "/jwks",
		Algorithms: []string{"RS256", "ES256", "ES384", "EdDSA"}}
}

func TestJWKSVerifiesEachFamily(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.rsa, k.es256, k.es384, k.ed, k.hs)
	a := newAuth(t, clk, srv.Client(), jwksIssuer(srv.URL))
	for _, s := range []signer{k.rsa, k.es256, k.es384, k.ed} {
		mustAccept(t, a, mint(t, s, clk.Now(), nil, nil))
	}
	// A symmetric key published in a JWKS is never used (anyone could read it).
	mustReject(t, a, mint(t, k.hs, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	// RS256 key used as PS256: the JWK binds it to RS256.
	mustReject(t, a, mint(t, signer{alg: "PS256", kid: k.rsa.kid, priv: k.rsa.priv}, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (cached)", n)
	}
}

func randomKID(t testing.TB) string { return strings.ToLower(rand.Text()) }

// 1,000 tokens with random kids: at most one fetch per rate window.
func TestJWKSRandomKIDsRateLimited(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.es256)
	cfg := config.JWT{Issuers: []config.JWTIssuer{jwksIssuer(srv.URL)}, JWKSMinRefresh: config.Duration(time.Minute)}
	a, err := New(cfg, srv.Client(), clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, a, mint(t, k.es256, clk.Now(), nil, nil)) // first use fetches
	windows := int64(1)
	for i := range 1000 {
		if i%250 == 249 {
			clk.Advance(time.Minute) // a new window opens: one more fetch allowed
			windows++
		}
		attacker := signer{alg: "ES256", kid: randomKID(t), priv: k.es256.priv}
		mustReject(t, a, mint(t, attacker, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	}
	if n := srv.fetches.Load(); n > windows || n < 2 {
		t.Fatalf("%d fetches over %d windows", n, windows)
	}
}

// Concurrent misses share one fetch.
func TestJWKSConcurrentMissesCoalesce(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.es256, k.ed)
	gate := make(chan struct{})
	srv.mu.Lock()
	srv.gate = gate
	srv.mu.Unlock()
	a := newAuth(t, clk, srv.Client(), jwksIssuer(srv.URL))
	const n = 50
	var started, ok atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		s := k.es256
		if i%2 == 1 {
			s = k.ed
		}
		tok := mint(t, s, clk.Now(), nil, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			if _, err := a.Authenticate(bearer(tok)); err == nil {
				ok.Add(1)
			}
		}()
	}
	waitFor(t, func() bool { return started.Load() == n && srv.fetches.Load() >= 1 })
	close(gate)
	wg.Wait()
	if f := srv.fetches.Load(); f != 1 {
		t.Fatalf("%d fetches for %d concurrent misses", f, n)
	}
	if ok.Load() != n {
		t.Fatalf("%d of %d verified", ok.Load(), n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestJWKSRotationAndStale(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.es256)
	a := newAuth(t, clk, srv.Client(), jwksIssuer(srv.URL))
	mustAccept(t, a, mint(t, k.es256, clk.Now(), nil, nil))
	srv.set(jwksOf(t, k.es256, k.ed)) // the issuer adds a key
	clk.Advance(5 * time.Minute)      // default rate window
	mustAccept(t, a, mint(t, k.ed, clk.Now(), nil, nil))
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// The cache outlives max age when the issuer is down: known keys still work.
	srv.mu.Lock()
	srv.status = http.StatusServiceUnavailable
	srv.mu.Unlock()
	clk.Advance(2 * time.Hour)
	mustAccept(t, a, mint(t, k.ed, clk.Now(), nil, nil))
	mustReject(t, a, mint(t, signer{alg: "ES256", kid: "new", priv: k.es256.priv}, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	// A key the issuer removed stops working after the next good fetch.
	srv.mu.Lock()
	srv.status = http.StatusOK
	srv.mu.Unlock()
	srv.set(jwksOf(t, k.ed))
	clk.Advance(2 * time.Hour)
	mustReject(t, a, mint(t, k.es256, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
}

func TestJWKSBadResponses(t *testing.T) {
	k, clk := keysOnce(), newClock()
	for name, body := range map[string][]byte{
		"too large":      append([]byte(`{"keys":[],"pad":"`), append([]byte(strings.Repeat("a", MaxJWKSBytes)), '"', '}')...),
		"duplicate keys": []byte(strings.Replace(string(jwksOf(t, k.es256)), `{"keys":`, `{"keys":[],"keys":`, 1)),
		"not json":       []byte("<html>"),
		"private key":    []byte(strings.Replace(string(jwksOf(t, k.es256)), `"kty"`, `"d":"AAAA","kty"`, 1)),
		"enc key":        []byte(strings.Replace(string(jwksOf(t, k.es256)), `"use":"sig"`, `"use":"enc"`, 1)),
		"alg not listed": []byte(strings.Replace(string(jwksOf(t, k.es256)), `"kty"`, `"alg":"ES512","kty"`, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.set(body)
			a := newAuth(t, clk, srv.Client(), jwksIssuer(srv.URL))
			mustReject(t, a, mint(t, k.es256, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
			if srv.fetches.Load() != 1 {
				t.Fatalf("%d fetches", srv.fetches.Load())
			}
		})
	}
}

// recordingTransport records every host a client tries to reach.
type recordingTransport struct {
	mu    sync.Mutex
	hosts []string
	base  http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.hosts = append(rt.hosts, r.URL.Host)
	rt.mu.Unlock()
	return rt.base.RoundTrip(r)
}

func TestJWKSRedirectToPlainHTTPRefused(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://jwks.invalid/keys", http.StatusFound)
	}))
	defer srv.Close()
	rt := &recordingTransport{base: srv.Client().Transport}
	a := newAuth(t, clk, &http.Client{Transport: rt}, jwksIssuer(srv.URL))
	_, err := a.Authenticate(bearer(mint(t, k.es256, clk.Now(), nil, nil)))
	if !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.hosts) != 1 || rt.hosts[0] != srv.Listener.Addr().String() {
		t.Fatalf("requests to %v; the redirect to plain http must not be followed", rt.hosts)
	}
}

// kid hygiene is checked before any lookup: a hostile kid never reaches the
// JWKS cache or triggers a fetch.
func TestJWKSHostileKIDNoFetch(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.es256)
	a := newAuth(t, clk, srv.Client(), jwksIssuer(srv.URL))
	for _, kid := range []string{"../../../../etc/passwd", "' OR '1'='1", "x;DROP TABLE jwks", "a\\b", "%2e%2e%2f"} {
		mustReject(t, a, mint(t, signer{alg: "ES256", kid: kid, priv: k.es256.priv}, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	}
	if n := srv.fetches.Load(); n != 0 {
		t.Fatalf("hostile kids caused %d fetches", n)
	}
}

// A verified token is served from cache for at most a minute: after that a
// key the issuer withdrew no longer verifies it.
func TestVerifiedCacheBounded(t *testing.T) {
	k, clk := keysOnce(), newClock()
	srv := newJWKSServer(t, k.es256, k.ed)
	cfg := config.JWT{Issuers: []config.JWTIssuer{jwksIssuer(srv.URL)}, JWKSMinRefresh: config.Duration(10 * time.Second)}
	a, err := New(cfg, srv.Client(), clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, k.es256, clk.Now(), nil, nil)
	p := mustAccept(t, a, tok)
	p.Scopes[0] = auth.ScopeAdmin // callers cannot poison the cache
	srv.set(jwksOf(t, k.ed))      // the issuer withdraws the ES256 key
	clk.Advance(59 * time.Second)
	if p := mustAccept(t, a, tok); p.Has(auth.ScopeAdmin) {
		t.Fatal("cached principal was modified through a returned slice")
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("cached token refetched: %d fetches", n)
	}
	mustAccept(t, a, mint(t, k.ed, clk.Now(), nil, nil)) // stale JWKS (max age 1h) still fresh
	clk.Advance(2 * time.Second)
	// Past the cache's minute the token is verified again; an unknown kid
	// has refetched the JWKS, which no longer holds the ES256 key.
	mustReject(t, a, mint(t, signer{alg: "ES256", kid: "gone", priv: k.es256.priv}, clk.Now(), nil, nil), auth.ErrInvalidCredentials)
	mustReject(t, a, tok, auth.ErrInvalidCredentials)
}
