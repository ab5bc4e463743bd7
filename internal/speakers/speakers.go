// Package speakers owns the people whose voices Izwi may recognise: data
// subjects and their voiceprints, with consent recorded through package
// consent (BIPA/GDPR) before anything biometric is stored. A voiceprint is
// biometric data, so nothing here is kept in the clear: every subject has
// one vault data key (class subject, created with their consent) under
// which their name and voiceprints are sealed; withdrawing consent, its
// expiry or an erasure request shreds that key — after which nothing of
// them can be decrypted, master key or not. Enrolment refuses without
// consent and without a recording that meets the quality bar; the audio
// itself is never stored. The gallery that live captions match against
// holds only subjects whose consent stands. Voiceprints are never exported.
package speakers

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound   = errors.New("speakers: no such subject")
	ErrNoConsent  = errors.New("speakers: explicit, recorded consent is required")
	ErrQuality    = errors.New("speakers: recording does not meet the enrolment bar")
	ErrBadRequest = errors.New("speakers: invalid request")
	ErrNoModel    = errors.New("speakers: no speaker model is installed")
)

// Sealer is what the registry needs from the vault (*vault.Keyring).
type Sealer interface {
	Key(ctx context.Context, class vault.Class, owner string) (vault.KeyID, error)
	SealUnder(ctx context.Context, id vault.KeyID, class vault.Class, objectID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, class vault.Class, objectID string, blob []byte) ([]byte, error)
	ShredOwner(ctx context.Context, class vault.Class, owner string) (bool, error)
}

var _ Sealer = (*vault.Keyring)(nil)

// Registry stores subjects, consent and voiceprints. Safe for concurrent use.
type Registry struct {
	st      *store.Store
	db      *store.Store
	vault   Sealer
	consent *consent.Service
	audit   audit.Recorder
	now     func() time.Time
}

// Options are the registry's dependencies.
type Options struct {
	Store *store.Store
	Vault Sealer
	// Consent records, checks, withdraws and expires consent; the registry
	// stores a voiceprint only under an active consent.
	Consent *consent.Service
	// Audit records enrolment, consent changes, exports and erasures
	// (ids only, never names or vectors); required.
	Audit audit.Recorder
	Now   func() time.Time
}

// New migrates the registry's tables.
func New(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Store == nil || opts.Vault == nil || opts.Audit == nil || opts.Consent == nil {
		return nil, errors.New("speakers: a store, the vault, the consent service and an audit recorder are required")
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, fmt.Errorf("speakers: %w", err)
	}
	r := &Registry{st: opts.Store, db: opts.Store, vault: opts.Vault, consent: opts.Consent, audit: opts.Audit, now: opts.Now}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

func migrations() store.Migrations {
	return store.Portable(`
CREATE TABLE speakers_subjects (
	id          TEXT PRIMARY KEY,
	sealed_name BLOB,             -- the name, sealed under the subject's key; NULL once erased
	created_at  INTEGER NOT NULL,
	erased_at   INTEGER,
	erase_reason TEXT
);
CREATE TABLE speakers_voiceprints (
	id         TEXT PRIMARY KEY,
	subject_id TEXT NOT NULL REFERENCES speakers_subjects(id),
	model      TEXT NOT NULL,     -- embeddings are only comparable within one model
	dim        INTEGER NOT NULL,
	sealed     BLOB NOT NULL,     -- the vector, sealed under the subject's key
	quality    TEXT NOT NULL,     -- JSON numbers from the enrolment check
	created_at INTEGER NOT NULL
);
CREATE INDEX speakers_voiceprints_model ON speakers_voiceprints(model);`)
}

// Subject is a person as the registry shows them.
type Subject struct {
	ID          string            `json:"id"`
	Name        string            `json:"name,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	ErasedAt    *time.Time        `json:"erased_at,omitempty"`
	EraseReason string            `json:"erase_reason,omitempty"`
	Consents    []consent.Summary `json:"consents"`
	Voiceprints []PrintInfo       `json:"voiceprints"`
}

// Consenting reports whether the subject's latest consent stands.
func (s Subject) Consenting() bool {
	n := len(s.Consents)
	return n > 0 && s.Consents[n-1].Status == consent.StatusActive
}

// PrintInfo describes a voiceprint without its vector.
type PrintInfo struct {
	ID        string    `json:"id"`
	Model     string    `json:"model"`
	Dim       int       `json:"dim"`
	Quality   string    `json:"quality"`
	CreatedAt time.Time `json:"created_at"`
}

// ConsentInput is what an operator records when a subject consents.
type ConsentInput struct {
	// TextVersion names the consent script the subject read (Scripts).
	TextVersion string `json:"text_version"`
	// Method is how consent was expressed: consent.MethodSpokenScript,
	// MethodTypedSignature or MethodPaper.
	Method consent.Method `json:"method"`
	// Operator is who took the enrolment ("user:<id>").
	Operator string `json:"operator"`
	// Granted must be true: consent is explicit, never implied.
	Granted bool `json:"granted"`
	// TypedName, RemoteIP and UserAgent are signature evidence (sealed).
	TypedName string `json:"typed_name,omitempty"`
	RemoteIP  string `json:"-"`
	UserAgent string `json:"-"`
	// Term shortens consent below the 3-year maximum.
	Term time.Duration `json:"-"`
}

func (c ConsentInput) check() error {
	if !c.Granted {
		return ErrNoConsent
	}
	if _, ok := Script(c.TextVersion); !ok {
		return fmt.Errorf("%w: unknown consent text version %q", ErrNoConsent, c.TextVersion)
	}
	if c.Method == "" || c.Operator == "" || len(c.Operator) > 128 {
		return fmt.Errorf("%w: method and operator are required", ErrNoConsent)
	}
	return nil
}

// grant turns the input into package consent's record of it.
func (c ConsentInput) grant(subject string) consent.Grant {
	return consent.Grant{Subject: subject, Purpose: consent.PurposeSpeakerID,
		Notice: consent.Notice{Version: c.TextVersion, Text: script(c.TextVersion)}, Method: c.Method,
		Operator: c.Operator, Term: c.Term, ExplicitGDPR: c.Granted,
		Evidence: consent.Evidence{TypedName: c.TypedName, RemoteIP: c.RemoteIP, UserAgent: c.UserAgent,
			Intent: "I agree to the consent text version " + c.TextVersion + ": " + script(c.TextVersion)}}
}

// Script returns the consent text a subject reads aloud while enrolling,
// by version. A new wording gets a new version; records keep the version
// (and its SHA-256) their subject read.
func Script(version string) (string, bool) {
	switch version {
	case "v1":
		return "I agree that Izwi may keep a voiceprint made from this recording, encrypted, " +
			"only to show my name next to what I say in live captions here. " +
			"I know I can withdraw this consent at any time, and then my voiceprint is destroyed. " +
			"It is used for nothing else and shared with no one.", true
	}
	return "", false
}

// CurrentScript is the version new enrolments read.
const CurrentScript = "v1"

// script is Script's text, "" when unknown.
func script(version string) string { t, _ := Script(version); return t }

func newID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// owner is the vault owner of a subject's key.
func owner(subjectID string) string { return "subject:" + subjectID }

func checkName(name string) error {
	if name == "" || len(name) > 200 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n") {
		return fmt.Errorf("%w: a name of 1-200 bytes of text is required", ErrBadRequest)
	}
	return nil
}

// actorOf is who acts, as WithActor set it ("system" when unset).
func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

func (r *Registry) record(ctx context.Context, action, target, outcome string, details map[string]string) error {
	return r.audit.Record(ctx, audit.Event{Time: r.now().UTC(), Actor: actorOf(ctx), Action: action, Target: target,
		Outcome: outcome, Details: details})
}

type actorKey struct{}

// WithActor names who acts (an admin user, "cli") in audit entries, here
// and in the vault.
func WithActor(ctx context.Context, actor string) context.Context {
	return vault.WithActor(context.WithValue(ctx, actorKey{}, actor), actor)
}

// Component names the speakers tables' migrations in the store.
const Component = "speakers"

// Migrate brings the speakers tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
