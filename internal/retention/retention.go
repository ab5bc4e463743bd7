// Package retention owns what Izwi keeps only when an operator opted in:
// the final captions of a session (its transcript) and short low-confidence
// audio snippets for human review. Nothing reaches it unless a session asks
// to be kept (or the operator made that the default); everything it stores
// is sealed by the vault — one data key per session transcript, one per
// snippet — has an expiry, and is destroyed by crypto-shredding when it
// expires, when its session is deleted or when an operator erases it. The
// purge job runs in izwi serve; every purge and export is audited.
package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Errors.
var (
	ErrNotFound = errors.New("retention: nothing kept for this session")
	ErrExpired  = errors.New("retention: expired and destroyed")
)

// Sealer is what retention needs from the vault (*vault.Keyring).
type Sealer interface {
	Key(ctx context.Context, class vault.Class, owner string) (vault.KeyID, error)
	SealUnder(ctx context.Context, id vault.KeyID, class vault.Class, objectID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, class vault.Class, objectID string, blob []byte) ([]byte, error)
	ShredOwner(ctx context.Context, class vault.Class, owner string) (bool, error)
}

var _ Sealer = (*vault.Keyring)(nil)

// Limits on how long data may be kept. The review-snippet window is the
// seed's 7–30 days.
const (
	MinSnippetRetention = 7 * 24 * time.Hour
	MaxSnippetRetention = 30 * 24 * time.Hour
	MaxTranscriptRetain = 365 * 24 * time.Hour
)

// Options configure a Keeper.
type Options struct {
	Store *store.Store
	Vault Sealer
	Audit audit.Recorder // purges, deletions and exports; required
	Now   func() time.Time
	// TranscriptRetention keeps a session's transcript this long after its
	// last caption (1 h – 365 days).
	TranscriptRetention time.Duration
	// SnippetRetention keeps a review snippet this long (7–30 days).
	SnippetRetention time.Duration
}

// Keeper stores, reads and destroys opted-in data. Safe for concurrent use.
type Keeper struct {
	st    *store.Store
	db    *store.Store
	vault Sealer
	audit audit.Recorder
	now   func() time.Time
	keepT time.Duration
	keepS time.Duration
}

// New validates the retention windows and migrates the tables.
func New(ctx context.Context, opts Options) (*Keeper, error) {
	if opts.Store == nil || opts.Vault == nil || opts.Audit == nil {
		return nil, errors.New("retention: a store, the vault and an audit recorder are required")
	}
	if opts.TranscriptRetention < time.Hour || opts.TranscriptRetention > MaxTranscriptRetain {
		return nil, fmt.Errorf("retention: transcript retention %v: want 1h..365d", opts.TranscriptRetention)
	}
	if opts.SnippetRetention < MinSnippetRetention || opts.SnippetRetention > MaxSnippetRetention {
		return nil, fmt.Errorf("retention: snippet retention %v: want 7..30 days", opts.SnippetRetention)
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	k := &Keeper{st: opts.Store, db: opts.Store, vault: opts.Vault, audit: opts.Audit, now: opts.Now,
		keepT: opts.TranscriptRetention, keepS: opts.SnippetRetention}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

func migrations() store.Migrations {
	return store.Portable(`
CREATE TABLE retention_transcripts (
	session_id TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL,
	last_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	lines      INTEGER NOT NULL DEFAULT 0,
	destroyed_at INTEGER,
	destroy_reason TEXT
);
CREATE TABLE retention_lines (
	session_id TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	sealed     BLOB NOT NULL,      -- one final caption (JSON), sealed under the session's transcript key
	PRIMARY KEY (session_id, seq)
);
CREATE TABLE retention_snippets (
	id         TEXT PRIMARY KEY,
	session_id TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	start_ms   INTEGER NOT NULL,
	end_ms     INTEGER NOT NULL,
	confidence REAL NOT NULL,
	sealed     BLOB,               -- {text, rate, pcm16}, sealed under the snippet's own key; NULL once destroyed
	destroyed_at INTEGER,
	destroy_reason TEXT
);
CREATE INDEX retention_snippets_session ON retention_snippets(session_id);
CREATE INDEX retention_snippets_expiry ON retention_snippets(expires_at);`)
}

func transcriptOwner(sessionID string) string { return "session:" + sessionID }
func snippetOwner(id string) string           { return "snippet:" + id }

func (k *Keeper) record(ctx context.Context, action, target string, details map[string]string) error {
	actor := "system"
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		actor = a
	}
	return k.audit.Record(ctx, audit.Event{Time: k.now().UTC(), Actor: actor, Action: action, Target: target,
		Outcome: "ok", Details: details})
}

type actorKey struct{}

// WithActor names who acts in audit entries, here and in the vault.
func WithActor(ctx context.Context, actor string) context.Context {
	return vault.WithActor(context.WithValue(ctx, actorKey{}, actor), actor)
}

// Component names the retention tables' migrations in the store.
const Component = "retention"

// Migrate brings the retention tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
