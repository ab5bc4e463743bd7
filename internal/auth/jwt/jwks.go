package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/izwi-speech/izwi/internal/config"
)

// MaxJWKSBytes bounds a JWKS response body.
const MaxJWKSBytes = 1 << 20

// fetchTimeout bounds one JWKS fetch when the client sets no timeout.
const fetchTimeout = 10 * time.Second

// remoteKeys is an issuer's JWKS, fetched lazily, cached for maxAge and
// refetched on an unknown kid at most once per minRefresh. Concurrent misses
// share one fetch (singleflight).
type remoteKeys struct {
	url        string
	algs       []string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	maxAge     time.Duration
	log        *slog.Logger
	flight     singleflight.Group

	mu        sync.Mutex
	keys      []key
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch attempt, successful or not
	inFlight  bool      // a fetch is running: misses wait for it
}

// lookup returns the key for kid and alg, fetching the JWKS when the cache is
// empty, stale, or lacks the kid and the rate window allows. When a refetch
// of a stale cache fails, the cached keys are used until one succeeds.
func (s *remoteKeys) lookup(ctx context.Context, kid, alg string) (key, error) {
	keys, fresh, mayFetch := s.state()
	k, err := pick(keys, kid, alg)
	if err == nil && fresh {
		return k, nil
	}
	if !mayFetch {
		return k, err
	}
	if _, ferr, _ := s.flight.Do("jwks", func() (any, error) { return nil, s.refresh(ctx) }); ferr != nil {
		if err == nil {
			return k, nil // stale but known; the next window retries
		}
		return key{}, fmt.Errorf("%w (jwks fetch failed)", errUnknownKey)
	}
	keys, _, _ = s.state()
	return pick(keys, kid, alg)
}

func (s *remoteKeys) state() (keys []key, fresh, mayFetch bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fresh = !s.fetched.IsZero() && now.Sub(s.fetched) < s.maxAge
	mayFetch = s.inFlight || s.attempted.IsZero() || now.Sub(s.attempted) >= s.minRefresh
	return s.keys, fresh, mayFetch
}

// refresh fetches the JWKS unless another caller did within the window. The
// fetch outlives the caller that started it (others may be waiting on it).
func (s *remoteKeys) refresh(ctx context.Context) error {
	s.mu.Lock()
	now := s.now()
	if !s.attempted.IsZero() && now.Sub(s.attempted) < s.minRefresh {
		s.mu.Unlock()
		return nil
	}
	s.attempted, s.inFlight = now, true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inFlight = false; s.mu.Unlock() }()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	keys, err := s.fetch(ctx)
	if err != nil {
		s.log.Warn("jwks fetch failed", "url", s.url, "err", err)
		return err
	}
	s.mu.Lock()
	s.keys, s.fetched = keys, now
	s.mu.Unlock()
	s.log.Debug("jwks fetched", "url", s.url, "keys", len(keys))
	return nil
}

func (s *remoteKeys) fetch(ctx context.Context) ([]key, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwt: jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, fmt.Errorf("jwt: jwks: response larger than %d bytes", MaxJWKSBytes)
	}
	return parseJWKS(body, s.algs)
}

// safeClient copies c (or a default) so redirects can only go to URLs a
// jwks_url may name: https, or http on loopback.
func safeClient(c *http.Client) *http.Client {
	cc := &http.Client{Timeout: fetchTimeout}
	if c != nil {
		cp := *c
		cc = &cp
	}
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("jwt: jwks: too many redirects")
		}
		return config.CheckJWKSURL(req.URL.String())
	}
	return cc
}

// jwk is the subset of RFC 7517 members Izwi reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	K   string `json:"k"`
}

// parseJWKS turns a JWK Set into keys, each bound to one algorithm from algs.
// Keys Izwi cannot use (symmetric, encryption-only, other algorithms, private
// material) are skipped rather than failing the whole set.
func parseJWKS(b []byte, algs []string) ([]key, error) {
	if err := checkJSONObject(b); err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("jwt: jwks: %w", err)
	}
	var out []key
	for _, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" || j.D != "" || j.K != "" || j.Kid != "" && !validKID(j.Kid) {
			continue
		}
		k, err := j.key(algs)
		if err != nil {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

func (j jwk) key(algs []string) (key, error) {
	alg := j.Alg
	var pub any
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return key{}, errors.New("bad RSA key")
		}
		ev := int(new(big.Int).SetBytes(e).Int64())
		if ev < 3 || ev%2 == 0 {
			return key{}, errors.New("bad RSA exponent")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}
		if alg == "" {
			alg = firstOf(algs, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
		}
	case "EC":
		curve, size, def := curveFor(j.Crv)
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if curve == nil || err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return key{}, errors.New("bad EC key")
		}
		p, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return key{}, err
		}
		pub = p
		if alg == "" {
			alg = def
		}
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return key{}, errors.New("bad OKP key")
		}
		pub = ed25519.PublicKey(x)
		if alg == "" {
			alg = "EdDSA"
		}
	default:
		return key{}, errors.New("unsupported kty")
	}
	if !slices.Contains(algs, alg) || strings.HasPrefix(alg, "HS") {
		return key{}, errors.New("alg not allowed")
	}
	if err := fits(alg, pub); err != nil {
		return key{}, err
	}
	return key{kid: j.Kid, alg: alg, pub: pub}, nil
}

func curveFor(crv string) (elliptic.Curve, int, string) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32, "ES256"
	case "P-384":
		return elliptic.P384(), 48, "ES384"
	case "P-521":
		return elliptic.P521(), 66, "ES512"
	}
	return nil, 0, ""
}

func firstOf(allowed []string, prefs ...string) string {
	for _, p := range prefs {
		if slices.Contains(allowed, p) {
			return p
		}
	}
	return ""
}
