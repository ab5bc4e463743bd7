// Package auth owns who a caller is and what they may do: API keys (issued,
// hashed, scoped, revocable), the Principal a request carries once
// authenticated, scopes, and the HTTP middleware that enforces each route's
// declared access. JWT and WebSocket-ticket authenticators live in the
// subpackages jwt and ticket and produce the same Principal.
package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"
)

// Scope is a permission a principal holds.
type Scope string

// The scopes (the Izwi seed's asr/chat/tts.read, plus live and admin).
const (
	ScopeASRRead   Scope = "asr.read"   // transcribe files, stream recognition
	ScopeTTSRead   Scope = "tts.read"   // synthesize speech
	ScopeChatRead  Scope = "chat.read"  // chat completions through the gateway
	ScopeLiveWrite Scope = "live.write" // create live sessions and push audio
	ScopeLiveRead  Scope = "live.read"  // view captions
	ScopeAdmin     Scope = "admin"      // manage keys, users, sessions; implies every scope
)

// AllScopes lists every scope, in a fixed order.
func AllScopes() []Scope {
	return []Scope{ScopeASRRead, ScopeTTSRead, ScopeChatRead, ScopeLiveWrite, ScopeLiveRead, ScopeAdmin}
}

// ParseScope returns the scope named s, or an error for an unknown name.
func ParseScope(s string) (Scope, error) {
	if slices.Contains(AllScopes(), Scope(s)) {
		return Scope(s), nil
	}
	return "", errors.New("auth: unknown scope " + s)
}

// Kind says how a principal authenticated.
type Kind string

const (
	KindAPIKey Kind = "api_key"
	KindJWT    Kind = "jwt"
	KindTicket Kind = "ticket"
	KindAdmin  Kind = "admin_session" // a logged-in admin-console user
)

// Principal is an authenticated caller. It never holds a secret.
type Principal struct {
	Kind Kind
	// ID identifies the credential without revealing it: an API key's
	// public id, a JWT's "iss#sub", a ticket's id, an admin user's id.
	ID string
	// Subject is what quotas and usage are counted against
	// ("key:<id>", "jwt:<iss>#<sub>"); tickets inherit their issuer's.
	Subject string
	Scopes  []Scope
	// Expires is when the credential stops working (zero: never).
	Expires time.Time
	// SessionID and Origin bind a ticket to one live session and one
	// browser origin; empty for other kinds.
	SessionID string
	Origin    string
}

// Has reports whether p holds scope s; admin holds every scope.
func (p Principal) Has(s Scope) bool {
	return slices.Contains(p.Scopes, s) || slices.Contains(p.Scopes, ScopeAdmin)
}

// Authenticator recognises one kind of credential on a request.
//
// Contract: return ErrNoCredentials when the request carries none of this
// kind (so the next authenticator is tried), and an error wrapping
// ErrInvalidCredentials (or ErrExpired / ErrRevoked) when it carries one
// that fails; never log or return the credential itself.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Sentinel errors; API errors map them to 401.
var (
	ErrNoCredentials      = errors.New("auth: no credentials")
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	ErrExpired            = errors.New("auth: credentials expired")
	ErrRevoked            = errors.New("auth: credentials revoked")
)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal an authenticated request carries.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
