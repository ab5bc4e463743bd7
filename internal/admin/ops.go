package admin

import (
	"context"
	"time"
)

// Keys is what the console's API keys page needs (cmd/izwi adapts
// auth.KeyStore, which audits every change itself). actor is the audit
// actor, "user:<id>"; remoteIP and requestID go into that record.
type Keys interface {
	List(ctx context.Context) ([]KeyRow, error)
	Create(ctx context.Context, by Actor, k NewKey) (KeyRow, string, error)
	Revoke(ctx context.Context, by Actor, id string) error
	Rotate(ctx context.Context, by Actor, id string) (KeyRow, string, error)
}

// Actor is who acts, for the audit log.
type Actor struct{ ID, RemoteIP, RequestID string }

// KeyRow is an API key as the console lists it (never its secret).
type KeyRow struct {
	ID, Name          string
	Scopes            []string
	Created, Expires  time.Time
	Revoked, LastUsed time.Time
	Limits            string // as JSON, "" for the defaults
	RotatedTo         string
}

// NewKey is the console's create-key form. Numbers are as typed ("" for
// the default); the Keys implementation validates them.
type NewKey struct {
	Name                             string
	Scopes                           []string
	ExpiresIn                        string // a Go duration such as 720h; "" never
	RPS, MaxSessions, AudioMinPerDay string
}

// KeyScopes are the scopes the create form offers, in order.
var KeyScopes = []string{"live.write", "live.read", "asr.read", "tts.read", "chat.read", "admin"}

// AuditView is what the audit page shows: the latest entries and the
// chain's verification (cmd/izwi adapts internal/audit).
type AuditView interface {
	Recent(ctx context.Context, n int) ([]AuditRow, error)
	Verify(ctx context.Context) (AuditStatus, error)
}

// AuditRow is one audit entry as the console shows it.
type AuditRow struct {
	Seq                            int64
	Time                           time.Time
	Actor, Action, Target, Outcome string
	Details                        map[string]string
}

// AuditStatus is the chain's verification.
type AuditStatus struct {
	OK                bool
	Entries, Verified int64
	Checkpoints       int
	Covered           int64
	Problem           string // "" when sound
}

// HealthCheck is one line of the Health page.
type HealthCheck struct {
	Group, Name, State, Detail string
	OK                         bool
}

// SiteSettings are the settings safe to change while the server runs.
type SiteSettings interface {
	// PublicURL is the origin phones reach the API on ("" unset).
	PublicURL() string
	// SetPublicURL checks u (an origin) and applies it at once; the check
	// fetches u's /healthz from the server and says what it found.
	SetPublicURL(ctx context.Context, u string) (check string, err error)
}
