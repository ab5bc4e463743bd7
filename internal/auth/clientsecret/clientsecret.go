// Package clientsecret owns the Realtime API's ephemeral client secrets
// (OpenAI's "ek_…"): a key holder mints one (POST
// /v1/realtime/client_secrets, or the beta's /v1/realtime/sessions) and
// hands it to a browser or phone, which opens one Realtime call with it
// (POST /v1/realtime/calls) without ever holding the key. A secret is
// random (256 bits), stored only hashed and only in this process's
// memory, single-use, short-lived (≤ 10 minutes), bounded in number, and
// carries its minter's subject and scopes (so quotas, slots and
// revocation are the minter's) and the session configuration it was
// minted with. It is never logged: its public ID (a hash prefix) is.
package clientsecret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
)

// Prefix starts every secret, as OpenAI's do.
const Prefix = "ek_"

// Kind is a principal authenticated by a client secret.
const Kind auth.Kind = "client_secret"

// Bounds of a secret's life.
const (
	MinTTL     = 10 * time.Second
	MaxTTL     = 10 * time.Minute
	DefaultTTL = MaxTTL
)

// secretBytes is a secret's entropy.
const secretBytes = 32

// secretLen is the length of a well-formed secret (unpadded base64url).
var secretLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// Errors.
var (
	ErrFull = errors.New("clientsecret: too many outstanding client secrets")
	ErrTTL  = fmt.Errorf("clientsecret: a client secret lives %v to %v", MinTTL, MaxTTL)
)

// scopes a secret may carry: what a Realtime call uses.
var scopes = []auth.Scope{auth.ScopeASRRead, auth.ScopeChatRead, auth.ScopeTTSRead}

type entry struct {
	who     auth.Principal
	session []byte
	expires time.Time
}

// Store mints and redeems secrets. Safe for concurrent use.
type Store struct {
	now func() time.Time
	max int

	mu       sync.Mutex
	secrets  map[[sha256.Size]byte]entry
	redeemed map[string]entry // by public ID, until the call takes its session
}

// New returns a store holding at most max outstanding secrets (≤ 0:
// 1024); now is the clock (nil: time.Now).
func New(max int, now func() time.Time) *Store {
	if max <= 0 {
		max = 1024
	}
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, max: max, secrets: map[[sha256.Size]byte]entry{}, redeemed: map[string]entry{}}
}

// Minted is a new secret: Value is the secret, for the caller once.
type Minted struct {
	Value     string
	ID        string // public, for logs
	ExpiresAt time.Time
}

// Mint makes a secret for who, living ttl (0: DefaultTTL), carrying the
// session configuration (already validated by the caller).
func (st *Store) Mint(who auth.Principal, ttl time.Duration, session []byte) (Minted, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < MinTTL || ttl > MaxTTL {
		return Minted{}, ErrTTL
	}
	if who.Subject == "" {
		return Minted{}, errors.New("clientsecret: a subject is required")
	}
	var b [secretBytes]byte
	_, _ = rand.Read(b[:])
	tok := Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(tok))
	now := st.now()
	e := entry{who: narrow(who), session: slices.Clone(session), expires: now.Add(ttl)}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked(now)
	if len(st.secrets)+len(st.redeemed) >= st.max {
		return Minted{}, ErrFull
	}
	st.secrets[h] = e
	return Minted{Value: tok, ID: publicID(h), ExpiresAt: e.expires}, nil
}

// narrow is the minter's principal as the secret carries it: its subject
// and expiry, the scopes a call uses, the secret's kind, and the minting
// API key's ID (KeyID), so a call's key recheck sees that key revoked.
func narrow(who auth.Principal) auth.Principal {
	p := auth.Principal{Kind: Kind, Subject: who.Subject, Expires: who.Expires}
	if who.Kind == auth.KindAPIKey {
		p.ID = who.ID
	}
	for _, s := range scopes {
		if who.Has(s) {
			p.Scopes = append(p.Scopes, s)
		}
	}
	return p
}

// KeyID is the API key that minted the secret behind p ("" when p is
// not a client secret's, or a JWT minted it).
func KeyID(p auth.Principal) string {
	if p.Kind != Kind {
		return ""
	}
	return p.ID
}

// Redeem consumes a secret and returns its principal; its SessionID is
// the secret's public ID, for Session.
func (st *Store) Redeem(tok string) (auth.Principal, error) {
	if !WellFormed(tok) {
		return auth.Principal{}, fmt.Errorf("clientsecret: malformed: %w", auth.ErrInvalidCredentials)
	}
	h := sha256.Sum256([]byte(tok))
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.secrets[h]
	delete(st.secrets, h)
	if !ok {
		return auth.Principal{}, fmt.Errorf("clientsecret: unknown or already used: %w", auth.ErrInvalidCredentials)
	}
	if !now.Before(e.expires) {
		return auth.Principal{}, fmt.Errorf("clientsecret: expired: %w", auth.ErrExpired)
	}
	id := publicID(h)
	e.expires = now.Add(time.Minute) // for the call to take its session
	st.redeemed[id] = e
	p := e.who
	p.SessionID = id
	return p, nil
}

// Session returns, once, the session configuration the secret behind a
// redeemed principal carried (nil: none, or no store).
func (st *Store) Session(p auth.Principal) []byte {
	if st == nil || p.Kind != Kind {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.redeemed[p.SessionID]
	delete(st.redeemed, p.SessionID)
	if !ok {
		return nil
	}
	return e.session
}

// RevokeSubject drops every outstanding secret minted by subject.
func (st *Store) RevokeSubject(subject string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for h, e := range st.secrets {
		if e.who.Subject == subject {
			delete(st.secrets, h)
		}
	}
}

// Outstanding is how many secrets are held.
func (st *Store) Outstanding() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.secrets) + len(st.redeemed)
}

func (st *Store) sweepLocked(now time.Time) {
	for h, e := range st.secrets {
		if !now.Before(e.expires) {
			delete(st.secrets, h)
		}
	}
	for id, e := range st.redeemed {
		if !now.Before(e.expires) {
			delete(st.redeemed, id)
		}
	}
}

// WellFormed reports whether s has a secret's shape.
func WellFormed(s string) bool {
	if len(s) != secretLen || !strings.HasPrefix(s, Prefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(Prefix):])
	return err == nil
}

func publicID(h [sha256.Size]byte) string { return "eks_" + hex.EncodeToString(h[:6]) }

// Authenticator accepts a client secret as a bearer token on the routes
// that open a Realtime call (POST /v1/realtime/calls, POST /v1/realtime)
// and nowhere else, and consumes it.
type Authenticator struct{ Store *Store }

var _ auth.Authenticator = (*Authenticator)(nil)

// Authenticate implements auth.Authenticator: no "Bearer ek_…" →
// auth.ErrNoCredentials; on another route, or unknown, used or expired
// → an error wrapping auth.ErrInvalidCredentials or auth.ErrExpired.
func (a *Authenticator) Authenticate(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(tok, Prefix) {
		return auth.Principal{}, auth.ErrNoCredentials
	}
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/realtime/calls" && r.URL.Path != "/v1/realtime") {
		return auth.Principal{}, fmt.Errorf("clientsecret: a client secret opens a Realtime call only: %w", auth.ErrInvalidCredentials)
	}
	return a.Store.Redeem(tok)
}
