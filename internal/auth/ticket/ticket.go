// Package ticket owns single-use WebSocket tickets (the Live STT seed's
// "ticket-based WebSocket auth"): an authenticated caller, or the live-session
// layer after checking a viewer's password or link token, gets a short-lived
// random ticket bound to one session, one scope, one browser origin and the
// issuer's subject; a browser presents it once, as ?ticket= on the WebSocket
// upgrade. Tickets live only in this process's memory (stored hashed), so a
// restart invalidates them. It also owns the Origin check every WebSocket
// makes (cross-site WebSocket hijacking).
package ticket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
)

// Prefix starts every ticket, so it is recognisable (and never an izk_ key).
const Prefix = "izt_"

// secretBytes is the ticket's entropy: 256 bits from crypto/rand.
const secretBytes = 32

// ticketLen is the length of a well-formed ticket (unpadded base64url).
const ticketLen = len(Prefix) + (secretBytes*8+5)/6

// Errors Issue returns; Redeem errors wrap auth.ErrInvalidCredentials or
// auth.ErrExpired.
var (
	ErrFull     = errors.New("ticket: too many outstanding tickets")
	ErrBadGrant = errors.New("ticket: invalid grant")
)

// Grant is what a ticket allows: one scope on one session, from one origin,
// on behalf of Subject (quotas and usage count against it).
type Grant struct {
	Subject   string
	SessionID string
	Scope     auth.Scope // live.read or live.write
	Origin    string     // browser origin, scheme://host[:port]
	// SameOrigin says the caller checked that Origin is this server's own
	// origin (OwnOrigin of the request), which needs no allow-list entry:
	// pages Izwi serves itself may always open its WebSockets.
	SameOrigin bool
	// TTL shortens the configured lifetime; zero or longer means the configured one.
	TTL time.Duration
}

// Issued is a new ticket. Ticket is the secret: hand it to the caller once,
// never log it.
type Issued struct {
	Ticket    string    `json:"ticket"`
	ID        string    `json:"-"` // public id (hash prefix), for logs
	ExpiresAt time.Time `json:"expires_at"`
}

type entry struct {
	hash    [sha256.Size]byte
	grant   Grant
	expires time.Time
}

// Issuer issues and redeems tickets. Safe for concurrent use.
type Issuer struct {
	now     func() time.Time
	ttl     time.Duration
	max     int
	origins []string // normalised allow-list
	log     *slog.Logger

	mu        sync.Mutex
	tickets   map[[sha256.Size]byte]entry
	lastSweep time.Time
}

// NewIssuer builds an Issuer from cfg (defaults applied here); now is the
// clock (nil: time.Now).
func NewIssuer(cfg config.Tickets, now func() time.Time, log *slog.Logger) (*Issuer, error) {
	if err := (config.Config{JWT: config.JWT{Tickets: cfg}}).Validate(); err != nil {
		return nil, fmt.Errorf("ticket: %w", err)
	}
	cfg = config.Config{JWT: config.JWT{Tickets: cfg}}.Defaults().JWT.Tickets
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	is := &Issuer{now: now, ttl: cfg.TTL.Std(), max: cfg.MaxOutstanding, log: log, tickets: map[[sha256.Size]byte]entry{}}
	for _, o := range cfg.AllowedOrigins {
		n, _ := config.NormalizeOrigin(o) // validated above
		is.origins = append(is.origins, n)
	}
	return is, nil
}

// AllowedOrigins returns the normalised origin allow-list.
func (is *Issuer) AllowedOrigins() []string { return slices.Clone(is.origins) }

// Issue makes a ticket for g. The caller has already decided g is allowed
// (the subject holds the scope, may watch the session, knew the session's
// password or link token). The origin must be on the allow-list.
func (is *Issuer) Issue(ctx context.Context, g Grant) (Issued, error) {
	if err := ctx.Err(); err != nil {
		return Issued{}, err
	}
	if g.Subject == "" || !ValidSessionID(g.SessionID) {
		return Issued{}, fmt.Errorf("%w: subject and a well-formed session id are required", ErrBadGrant)
	}
	if g.Scope != auth.ScopeLiveRead && g.Scope != auth.ScopeLiveWrite {
		return Issued{}, fmt.Errorf("%w: scope must be live.read or live.write", ErrBadGrant)
	}
	origin, err := config.NormalizeOrigin(g.Origin)
	if err != nil || (!g.SameOrigin && !slices.Contains(is.origins, origin)) {
		return Issued{}, fmt.Errorf("%w: origin is not on jwt.tickets.allowed_origins", ErrBadGrant)
	}
	g.Origin = origin
	ttl := is.ttl
	if g.TTL > 0 && g.TTL < ttl {
		ttl = g.TTL
	}
	g.TTL = ttl
	secret := make([]byte, secretBytes)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go ≥ 1.24)
	tok := Prefix + base64.RawURLEncoding.EncodeToString(secret)
	h := sha256.Sum256([]byte(tok))
	now := is.now()
	e := entry{hash: h, grant: g, expires: now.Add(ttl)}

	is.mu.Lock()
	if now.Sub(is.lastSweep) >= is.ttl || len(is.tickets) >= is.max {
		is.sweepLocked(now)
	}
	if len(is.tickets) >= is.max {
		is.mu.Unlock()
		return Issued{}, ErrFull
	}
	is.tickets[h] = e
	is.mu.Unlock()

	id := publicID(h)
	is.log.Debug("ticket issued", "ticket_id", id, "subject", g.Subject, "session_id", g.SessionID, "scope", string(g.Scope))
	return Issued{Ticket: tok, ID: id, ExpiresAt: e.expires}, nil
}

// sweepLocked drops expired tickets; is.mu must be held.
func (is *Issuer) sweepLocked(now time.Time) {
	for h, e := range is.tickets {
		if !now.Before(e.expires) {
			delete(is.tickets, h)
		}
	}
	is.lastSweep = now
}

// Outstanding reports how many tickets are held (expired ones included
// until the next sweep).
func (is *Issuer) Outstanding() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return len(is.tickets)
}

// Redeem consumes tok for sessionID from origin and returns the principal it
// grants. Any presentation consumes the ticket, even one that then fails its
// binding checks, so a stolen ticket is burnt by a wrong guess.
func (is *Issuer) Redeem(tok, sessionID, origin string) (auth.Principal, error) {
	if !WellFormed(tok) {
		return auth.Principal{}, fmt.Errorf("ticket: malformed: %w", auth.ErrInvalidCredentials)
	}
	h := sha256.Sum256([]byte(tok))
	now := is.now()
	is.mu.Lock()
	e, ok := is.tickets[h]
	if ok {
		delete(is.tickets, h)
	}
	is.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return auth.Principal{}, fmt.Errorf("ticket: unknown or already used: %w", auth.ErrInvalidCredentials)
	}
	id := publicID(h)
	if !now.Before(e.expires) {
		return auth.Principal{}, fmt.Errorf("ticket: %s expired: %w", id, auth.ErrExpired)
	}
	if sessionID == "" || sessionID != e.grant.SessionID {
		return auth.Principal{}, fmt.Errorf("ticket: %s is for another session: %w", id, auth.ErrInvalidCredentials)
	}
	if o, err := config.NormalizeOrigin(origin); err != nil || o != e.grant.Origin {
		return auth.Principal{}, fmt.Errorf("ticket: %s is for another origin: %w", id, auth.ErrInvalidCredentials)
	}
	return auth.Principal{
		Kind:      auth.KindTicket,
		ID:        id,
		Subject:   e.grant.Subject,
		Scopes:    []auth.Scope{e.grant.Scope},
		Expires:   e.expires,
		SessionID: e.grant.SessionID,
		Origin:    e.grant.Origin,
	}, nil
}

// RevokeSubject drops every outstanding ticket issued on behalf of subject
// (a revoked key, a disabled user) and returns how many it dropped.
func (is *Issuer) RevokeSubject(subject string) int {
	is.mu.Lock()
	defer is.mu.Unlock()
	n := 0
	for h, e := range is.tickets {
		if e.grant.Subject == subject {
			delete(is.tickets, h)
			n++
		}
	}
	return n
}

// discard forgets tok without redeeming it.
func (is *Issuer) discard(tok string) {
	h := sha256.Sum256([]byte(tok))
	is.mu.Lock()
	delete(is.tickets, h)
	is.mu.Unlock()
}

// WellFormed reports whether s has a ticket's shape (prefix, length,
// base64url alphabet).
func WellFormed(s string) bool {
	if len(s) != ticketLen || !strings.HasPrefix(s, Prefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(Prefix):])
	return err == nil
}

// ValidSessionID admits the ids sessions use: 1–128 characters of
// [A-Za-z0-9._-].
func ValidSessionID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// publicID names a ticket in logs without revealing it.
func publicID(h [sha256.Size]byte) string { return "tkt_" + hex.EncodeToString(h[:6]) }
