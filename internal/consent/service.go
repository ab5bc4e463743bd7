package consent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Vault is the privacy vault as consent uses it (*vault.Keyring).
//
// Contract: as vault.Keyring; called only outside this package's
// transactions (the store has one connection).
type Vault interface {
	Key(ctx context.Context, class vault.Class, owner string) (vault.KeyID, error)
	Seal(ctx context.Context, class vault.Class, objectID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, class vault.Class, objectID string, blob []byte) ([]byte, error)
	ShredOwner(ctx context.Context, class vault.Class, owner string) (bool, error)
}

// TxRecorder audits a change inside its transaction (*audit.Log).
type TxRecorder interface {
	RecordTx(ctx context.Context, tx *store.Tx, e audit.Event) error
}

var (
	_ Vault      = (*vault.Keyring)(nil)
	_ TxRecorder = (*audit.Log)(nil)
)

// Options are the service's dependencies; all but Logger and Now required.
type Options struct {
	Store  *store.Store
	Vault  Vault
	Audit  TxRecorder
	Logger *slog.Logger
	Now    func() time.Time
}

// Service records, checks, withdraws, expires, erases and exports consent.
// Safe for concurrent use.
type Service struct {
	st    *store.Store
	db    *store.Store
	vault Vault
	rec   TxRecorder
	log   *slog.Logger
	now   func() time.Time
}

// New migrates the consent tables.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Store == nil || opts.Vault == nil || opts.Audit == nil {
		return nil, errors.New("consent: a store, a vault and an audit recorder are required")
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	s := &Service{st: opts.Store, db: opts.Store, vault: opts.Vault, rec: opts.Audit, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func migrations() store.Migrations {
	return store.Portable(
		`CREATE TABLE consent_records (
			id TEXT PRIMARY KEY,
			subject TEXT NOT NULL,
			purpose TEXT NOT NULL,
			status TEXT NOT NULL CHECK (status IN ('active', 'withdrawn', 'expired', 'erased')),
			given_at INTEGER NOT NULL,
			deadline INTEGER NOT NULL,
			sealed BLOB
		);
		CREATE INDEX consent_records_subject ON consent_records(subject, purpose, status);
		CREATE TABLE consent_history (
			consent_id TEXT NOT NULL REFERENCES consent_records(id),
			seq INTEGER NOT NULL,
			at INTEGER NOT NULL,
			status TEXT NOT NULL,
			actor TEXT NOT NULL,
			reason TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (consent_id, seq)
		)`,
	)
}

// validate checks a grant and fills its defaults.
func (g *Grant) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalid, why) }
	switch {
	case !strings.HasPrefix(g.Subject, "subject:") || len(g.Subject) < 12 || len(g.Subject) > 128 || strings.ContainsAny(g.Subject, " \t\n"):
		return bad(`the subject must be a pseudonymous id "subject:<random>", never a name`)
	case g.Purpose != PurposeSpeakerID:
		return bad(fmt.Sprintf("unknown purpose %q", g.Purpose))
	case g.Notice.Version == "" || strings.TrimSpace(g.Notice.Text) == "":
		return bad("the notice shown (version and text) is required")
	case !slices.Contains([]Method{MethodTypedSignature, MethodSpokenScript, MethodPaper}, g.Method):
		return bad(fmt.Sprintf("unknown method %q", g.Method))
	case g.Method == MethodTypedSignature && strings.TrimSpace(g.Evidence.TypedName) == "":
		return bad("a typed signature needs the typed name")
	case strings.TrimSpace(g.Evidence.Intent) == "":
		return bad("the statement the subject affirmed is required")
	case g.Operator == "":
		return bad("the operator who recorded it is required")
	case !g.ExplicitGDPR:
		return bad("biometric identification needs explicit consent (GDPR Art. 9(2)(a))")
	}
	if g.Term <= 0 || g.Term > MaxTerm {
		g.Term = MaxTerm
	}
	if g.Recipients == nil {
		g.Recipients = []string{}
	}
	return nil
}

// Record stores a consent. The subject's biometric key is created with it;
// enrolment seals voiceprints under Record.SubjectKeyID. One active consent
// per subject and purpose: withdraw the old one to record a new one.
func (s *Service) Record(ctx context.Context, g Grant) (Record, error) {
	if err := g.validate(); err != nil {
		return Record{}, err
	}
	if _, err := s.Active(ctx, g.Subject, g.Purpose); err == nil {
		return Record{}, fmt.Errorf("%w: the subject already has an active consent for %s; withdraw it first", ErrInvalid, g.Purpose)
	} else if !errors.Is(err, ErrNoConsent) {
		return Record{}, err
	}
	now := s.now().UTC()
	sum := sha256.Sum256([]byte(g.Notice.Text))
	b := make([]byte, 12)
	rand.Read(b)
	r := Record{ID: "consent:" + hex.EncodeToString(b), Subject: g.Subject, Representative: g.Representative,
		Purpose: g.Purpose, NoticeVersion: g.Notice.Version, NoticeSHA256: hex.EncodeToString(sum[:]), Method: g.Method,
		Operator: g.Operator, GivenAt: now, Deadline: now.Add(g.Term), ExplicitGDPR: g.ExplicitGDPR,
		Recipients: g.Recipients, Evidence: g.Evidence, Status: StatusActive}
	kid, err := s.vault.Key(ctx, vault.ClassSubject, g.Subject)
	if err != nil {
		return Record{}, fmt.Errorf("consent: subject key: %w", err)
	}
	r.SubjectKeyID = kid.String()
	payload, err := json.Marshal(r)
	if err != nil {
		return Record{}, fmt.Errorf("consent: %w", err)
	}
	sealed, err := s.vault.Seal(ctx, vault.ClassConsent, r.ID, payload)
	clear(payload)
	if err != nil {
		return Record{}, fmt.Errorf("consent: seal: %w", err)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO consent_records (id, subject, purpose, status, given_at, deadline, sealed)
			VALUES (?, ?, ?, 'active', ?, ?, ?)`, r.ID, r.Subject, string(r.Purpose), now.UnixNano(), r.Deadline.UnixNano(), sealed); err != nil {
			return err
		}
		return s.change(ctx, tx, r.ID, Change{At: now, Status: StatusActive, Actor: g.Operator}, "consent.record",
			map[string]string{"subject": r.Subject, "purpose": string(r.Purpose), "notice_version": r.NoticeVersion, "method": string(r.Method)})
	})
	if err != nil {
		return Record{}, fmt.Errorf("consent: record: %w", err)
	}
	r.History = []Change{{At: now, Status: StatusActive, Actor: g.Operator}}
	return r, nil
}

// change appends a history entry and its audit event inside tx.
func (s *Service) change(ctx context.Context, tx *store.Tx, id string, c Change, action string, details map[string]string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO consent_history (consent_id, seq, at, status, actor, reason)
		VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM consent_history WHERE consent_id = ?), ?, ?, ?, ?)`,
		id, id, c.At.UnixNano(), string(c.Status), c.Actor, c.Reason); err != nil {
		return err
	}
	if details == nil {
		details = map[string]string{}
	}
	if c.Reason != "" {
		details["reason"] = c.Reason
	}
	return s.rec.RecordTx(ctx, tx, audit.Event{Actor: c.Actor, Action: action, Target: id, Outcome: "ok", Details: details})
}

// Active returns the subject's active, unexpired consent for purpose, or
// ErrNoConsent. Enrolment and matching call it first and refuse (403)
// without one.
func (s *Service) Active(ctx context.Context, subject string, purpose Purpose) (Record, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM consent_records WHERE subject = ? AND purpose = ? AND status = 'active'
		AND deadline > ? ORDER BY given_at DESC LIMIT 1`, subject, string(purpose), s.now().UnixNano()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNoConsent
	}
	if err != nil {
		return Record{}, fmt.Errorf("consent: %w", err)
	}
	return s.get(ctx, id)
}

// Component names the consent tables' migrations in the store.
const Component = "consent"

// Migrate brings the consent tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
