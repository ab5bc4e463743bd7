// Package jwt authenticates `Authorization: Bearer <jwt>` requests against
// trusted issuers (static keys or a JWKS URL) and maps a configured claim to
// Izwi scopes. Signature and registered-claim checks use
// github.com/golang-jwt/jwt/v5; the RFC 8725 rules that library leaves open
// (duplicate JSON members, crit, typ, jku/x5u/jwk/x5c, one algorithm per key,
// kid hygiene) are enforced here before it runs. cmd/izwi builds it with New.
package jwt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

// maxSubjectBytes bounds the subject claim (it ends up in IDs and logs).
const maxSubjectBytes = 256

// Authenticator verifies JWTs from the configured issuers.
type Authenticator struct {
	issuers map[string]*issuer
	now     func() time.Time
	leeway  time.Duration
	log     *slog.Logger
	cache   verifiedCache
}

var _ auth.Authenticator = (*Authenticator)(nil)

type issuer struct {
	cfg  config.JWTIssuer
	keys keySource
}

// New builds an Authenticator from cfg (defaults are applied here). It
// reads static key files now and refuses weak or mismatched keys (HMAC
// secrets under 256 bits, RSA under 2048 bits, a key of the wrong family for
// its alg). JWKS are fetched lazily with client (nil: a default with a
// timeout); now is the clock (nil: time.Now). With no issuers configured the
// Authenticator answers auth.ErrNoCredentials for every request.
func New(cfg config.JWT, client *http.Client, now func() time.Time, log *slog.Logger) (*Authenticator, error) {
	if err := (config.Config{JWT: cfg}).Validate(); err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	cfg = config.Config{JWT: cfg}.Defaults().JWT
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range Warnings(cfg) {
		log.Warn("jwt: unsafe setting", "warning", w)
	}
	a := &Authenticator{issuers: map[string]*issuer{}, now: now, leeway: cfg.Leeway.Std(), log: log}
	hc := safeClient(client)
	for _, is := range cfg.Issuers {
		it := &issuer{cfg: is}
		if is.JWKSURL != "" {
			it.keys = &remoteKeys{url: is.JWKSURL, algs: is.Algorithms, client: hc, now: now,
				minRefresh: cfg.JWKSMinRefresh.Std(), maxAge: cfg.JWKSMaxAge.Std(), log: log.With("issuer", is.Issuer)}
		} else {
			keys, err := loadStatic(is)
			if err != nil {
				return nil, err
			}
			it.keys = keys
		}
		a.issuers[is.Issuer] = it
	}
	return a, nil
}

// Authenticate implements auth.Authenticator for "Authorization: Bearer
// <jwt>" and, on WebSockets, "Sec-WebSocket-Protocol: token, <jwt>". A
// request without a token shaped like a JWT gets auth.ErrNoCredentials (API keys, izk_…, are
// left to the key authenticator); a JWT that fails any check gets an error
// wrapping auth.ErrInvalidCredentials or auth.ErrExpired. Errors never
// contain the token.
func (a *Authenticator) Authenticate(r *http.Request) (auth.Principal, error) {
	if len(a.issuers) == 0 {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		// Browser WebSocket clients cannot set headers; Deepgram's SDK sends
		// "Sec-WebSocket-Protocol: token, <credential>" (auth.Redact strips it).
		if tok, ok := auth.WebSocketProtocolCredential(r); ok && LooksLikeJWT(tok) {
			return a.Verify(r.Context(), tok)
		}
		return auth.Principal{}, auth.ErrNoCredentials
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !LooksLikeJWT(strings.TrimSpace(tok)) {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	if len(vals) > 1 {
		return auth.Principal{}, fmt.Errorf("jwt: more than one Authorization header: %w", auth.ErrInvalidCredentials)
	}
	return a.Verify(r.Context(), strings.TrimSpace(tok))
}

// Verify checks one compact JWT and returns its principal.
func (a *Authenticator) Verify(ctx context.Context, raw string) (auth.Principal, error) {
	h := sha256.Sum256([]byte(raw))
	if p, ok := a.cache.get(h, a.now()); ok {
		p.Scopes = slices.Clone(p.Scopes)
		return p, nil
	}
	p, err := a.verify(ctx, raw)
	if err != nil {
		if errors.Is(err, gojwt.ErrTokenExpired) {
			return auth.Principal{}, fmt.Errorf("jwt: token expired: %w", auth.ErrExpired)
		}
		return auth.Principal{}, fmt.Errorf("jwt: %s: %w", reason(err), auth.ErrInvalidCredentials)
	}
	a.cache.put(h, p, a.now(), a.leeway)
	return p, nil
}

// reason is a short, token-free description of why verification failed.
func reason(err error) string {
	for _, e := range []error{gojwt.ErrTokenNotValidYet, gojwt.ErrTokenUsedBeforeIssued, gojwt.ErrTokenRequiredClaimMissing,
		gojwt.ErrTokenInvalidAudience, gojwt.ErrTokenInvalidIssuer, gojwt.ErrTokenSignatureInvalid,
		gojwt.ErrTokenUnverifiable, gojwt.ErrTokenMalformed, gojwt.ErrTokenInvalidClaims} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

func (a *Authenticator) verify(ctx context.Context, raw string) (auth.Principal, error) {
	t, err := parseToken(raw)
	if err != nil {
		return auth.Principal{}, err
	}
	iss, _ := t.payload["iss"].(string)
	it := a.issuers[iss]
	if it == nil {
		return auth.Principal{}, errors.New("untrusted or missing iss")
	}
	if err := checkTyp(it.cfg.Typ, t.header.Typ); err != nil {
		return auth.Principal{}, err
	}
	k, err := it.keys.lookup(ctx, t.header.Kid, t.header.Alg)
	if err != nil {
		return auth.Principal{}, err
	}
	parser := gojwt.NewParser(
		gojwt.WithValidMethods([]string{k.alg}), // the key's one algorithm
		gojwt.WithIssuer(it.cfg.Issuer),
		gojwt.WithAudience(it.cfg.Audience),
		gojwt.WithExpirationRequired(),
		gojwt.WithIssuedAt(),
		gojwt.WithLeeway(a.leeway),
		gojwt.WithTimeFunc(a.now),
		gojwt.WithStrictDecoding(),
		gojwt.WithJSONNumber(),
	)
	claims := gojwt.MapClaims{}
	if _, err := parser.ParseWithClaims(raw, claims, func(*gojwt.Token) (any, error) { return k.pub, nil }); err != nil {
		return auth.Principal{}, err
	}
	sub, _ := claims[it.cfg.SubjectClaim].(string)
	if sub == "" || len(sub) > maxSubjectBytes || strings.ContainsFunc(sub, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return auth.Principal{}, fmt.Errorf("subject claim %q missing or malformed", it.cfg.SubjectClaim)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return auth.Principal{}, errors.New("exp missing")
	}
	id := iss + "#" + sub
	return auth.Principal{
		Kind:    auth.KindJWT,
		ID:      id,
		Subject: "jwt:" + id,
		Scopes:  a.scopes(iss, claims[it.cfg.ScopesClaim]),
		Expires: exp.Time,
	}, nil
}

// checkTyp enforces the header typ the issuer is configured for (RFC 8725
// §3.11), so that, say, a ticket or ID token cannot pass as an access token.
func checkTyp(want, got string) error {
	g := strings.ToLower(strings.TrimPrefix(strings.ToLower(got), "application/"))
	switch want {
	case "at+jwt":
		if g == "at+jwt" {
			return nil
		}
	default:
		if got == "" || g == "jwt" {
			return nil
		}
	}
	return fmt.Errorf("typ %q is not accepted (want %s)", clip(got), want)
}

// scopes maps a space-separated string or an array of strings to Izwi
// scopes; unknown names are ignored and logged at debug (names only).
func (a *Authenticator) scopes(iss string, v any) []auth.Scope {
	var names []string
	switch x := v.(type) {
	case string:
		names = strings.Fields(x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				names = append(names, s)
			}
		}
	}
	var out []auth.Scope
	var unknown []string
	for _, n := range names {
		s, err := auth.ParseScope(n)
		if err != nil {
			if len(unknown) < 8 {
				unknown = append(unknown, clip(n))
			}
			continue
		}
		if !containsScope(out, s) {
			out = append(out, s)
		}
	}
	if len(unknown) > 0 {
		a.log.Debug("jwt scopes ignored", "issuer", clip(iss), "unknown", unknown)
	}
	return out
}

func containsScope(list []auth.Scope, s auth.Scope) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
