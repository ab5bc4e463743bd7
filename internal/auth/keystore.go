package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// keyMigrations is the auth component's schema (append-only). Times are
// Unix seconds; a NULL expires_at never expires.
var keyMigrations = store.Portable(
	`CREATE TABLE auth_keys (
		id TEXT PRIMARY KEY,
		lineage TEXT NOT NULL,
		name TEXT NOT NULL,
		scopes TEXT NOT NULL,
		hash BLOB NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER,
		revoked_at INTEGER,
		last_used_at INTEGER,
		limits TEXT NOT NULL DEFAULT '{}',
		allow_cidrs TEXT NOT NULL DEFAULT '',
		deny_cidrs TEXT NOT NULL DEFAULT '',
		rotated_to TEXT
	)`,
	`CREATE INDEX auth_keys_lineage ON auth_keys(lineage)`,
	// WatchRevocations reads recent revocations every few seconds.
	`CREATE INDEX auth_keys_revoked ON auth_keys(revoked_at)`,
)

// lastUsedGranularity keeps last_used coarse: at most one write per key per
// period, so authentication stays a read and usage patterns stay vague.
const lastUsedGranularity = time.Hour

// ErrKeyNotFound is returned for an id that names no key.
var ErrKeyNotFound = errors.New("auth: no such key")

// Key is an API key's record. It never holds the secret or its hash.
type Key struct {
	ID string `json:"id"`
	// Lineage is the id of the first key of a rotation chain; quotas and
	// usage count against it so rotating does not reset them.
	Lineage   string          `json:"lineage"`
	Name      string          `json:"name"`
	Scopes    []Scope         `json:"scopes"`
	Created   time.Time       `json:"created"`
	Expires   time.Time       `json:"expires,omitzero"`
	Revoked   time.Time       `json:"revoked,omitzero"`
	LastUsed  time.Time       `json:"last_used,omitzero"`
	Limits    json.RawMessage `json:"limits,omitempty"`
	Allow     []netip.Prefix  `json:"allow_cidrs,omitempty"`
	Deny      []netip.Prefix  `json:"deny_cidrs,omitempty"`
	RotatedTo string          `json:"rotated_to,omitempty"`
}

// Subject is what quotas count this key's use against.
func (k Key) Subject() string { return "key:" + k.Lineage }

// Principal is the authenticated caller this key makes.
func (k Key) Principal() Principal {
	return Principal{Kind: KindAPIKey, ID: k.ID, Subject: k.Subject(), Scopes: k.Scopes, Expires: k.Expires}
}

// Policy is what the limit component enforces for a key: its limits (JSON
// the limit component defines) and its IP allow/deny lists. A key's policy
// never changes after creation (rotation makes a new key), so it may be
// cached by id.
type Policy struct {
	Limits json.RawMessage
	Allow  []netip.Prefix
	Deny   []netip.Prefix
}

// KeySpec is what a new key is created with.
type KeySpec struct {
	Name    string
	Scopes  []Scope
	Expires time.Time // zero: never
	Limits  json.RawMessage
	Allow   []netip.Prefix
	Deny    []netip.Prefix
}

// Actor says who changes keys, for the audit log.
type Actor struct {
	ID        string // "user:<id>", "key:<id>", "cli", "system"
	RemoteIP  string
	RequestID string
}

// KeyStoreConfig configures a KeyStore.
type KeyStoreConfig struct {
	// Pepper is the HMAC key for key hashes (LoadOrCreatePepper); ≥ 32 bytes.
	Pepper []byte
	// Audit records every key change; a change that cannot be audited fails.
	Audit audit.Recorder
	// Now is the clock (time.Now when nil); tests pass a fake one.
	Now func() time.Time
	// EpochFile, if set, enables the verified-key cache guarded by this
	// shared file (see keycache.go). Every process that changes keys in
	// the database must use the same path: `izwi serve` and `izwi keys`
	// use <database>-keys-epoch. Empty: every request reads the database.
	EpochFile string
	// OnRevoke, if set, is called with a key's Subject after this process
	// revokes or rotates it, so that what was derived from the key
	// (outstanding WebSocket tickets, open sessions) can be dropped.
	OnRevoke func(subject string)
	// Announce, if set, is called with a key's id and Subject after this
	// process revokes or rotates it, to tell the other processes sharing
	// the database (cmd/izwi publishes it on the bus; they call
	// RevokedElsewhere). It must not block.
	Announce func(id, subject string)
	// CheckLimits, if set, validates a key's per-key limits JSON at
	// creation (the limit package's parser: auth cannot import it), so a
	// misspelt field is refused then rather than failing every request.
	CheckLimits func(limits []byte) error
}

// TxRecorder is an audit recorder that can append inside the caller's
// transaction, so a key change and its audit entry commit together
// (*audit.Log implements it).
type TxRecorder interface {
	RecordTx(ctx context.Context, tx *store.Tx, e audit.Event) error
}

// KeyStore keeps API keys in the database, hashed.
type KeyStore struct {
	db      *store.Store
	pepper  []byte
	audit   audit.Recorder
	txAudit TxRecorder // cfg.Audit when it implements TxRecorder
	now     func() time.Time
	dummy   []byte // hash compared against for unknown ids, so they take as long as known ones

	// verify is the one statement every authenticated request runs,
	// prepared once: parsing SQL was a third of a request's cost.
	verify *sql.Stmt

	hasher   *hasher
	epoch    *epochFile // nil: no cache
	onRevoke func(subject string)
	announce func(id, subject string)
	// checkLimits validates per-key limits (KeyStoreConfig.CheckLimits).
	checkLimits func([]byte) error
	cache       keyCache

	mu       sync.Mutex
	policies map[string]Policy
}

// NewKeyStore migrates the auth schema in st and returns the key store.
func NewKeyStore(ctx context.Context, st *store.Store, cfg KeyStoreConfig) (*KeyStore, error) {
	if len(cfg.Pepper) < 32 {
		return nil, errPepper
	}
	if cfg.Audit == nil {
		return nil, errors.New("auth: key store needs an audit recorder")
	}
	if err := Migrate(ctx, st); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	ks := &KeyStore{db: st, pepper: cfg.Pepper, audit: cfg.Audit, now: now, policies: map[string]Policy{}}
	ks.txAudit, _ = cfg.Audit.(TxRecorder)
	ks.hasher = newHasher(cfg.Pepper)
	ks.onRevoke, ks.announce = cfg.OnRevoke, cfg.Announce
	ks.checkLimits = cfg.CheckLimits
	ks.cache.m = map[string]cachedKey{}
	var err error
	if cfg.EpochFile != "" {
		if ks.epoch, err = openEpoch(cfg.EpochFile); err != nil {
			return nil, err
		}
	}
	if ks.verify, err = ks.db.Prepare(ctx, `SELECT `+keyColumns+`, hash FROM auth_keys WHERE id = ?`); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	ks.dummy = hashKey(cfg.Pepper, "dummy", newKeySecret())
	return ks, nil
}

// Close releases the epoch file. The prepared statement closes with the
// database.
func (ks *KeyStore) Close() error {
	if ks.epoch != nil {
		return ks.epoch.close()
	}
	return nil
}

// Validate checks a new key's fields.
func (s KeySpec) Validate() error { return validateSpec(s) }

// validateSpec checks a new key's fields.
func validateSpec(s KeySpec) error {
	if n := utf8.RuneCountInString(s.Name); n == 0 || n > 64 || !utf8.ValidString(s.Name) ||
		strings.ContainsFunc(s.Name, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return errors.New("auth: key name must be 1 to 64 printable characters")
	}
	if len(s.Scopes) == 0 {
		return errors.New("auth: a key needs at least one scope")
	}
	for _, sc := range s.Scopes {
		if _, err := ParseScope(string(sc)); err != nil {
			return err
		}
	}
	if len(s.Limits) > 0 {
		var m map[string]any
		if len(s.Limits) > 4096 || json.Unmarshal(s.Limits, &m) != nil {
			return errors.New("auth: key limits must be a JSON object of at most 4 KiB")
		}
	}
	if len(s.Allow)+len(s.Deny) > 256 {
		return errors.New("auth: at most 256 CIDRs per key")
	}
	return nil
}

// ValidateSpec reports what is wrong with spec, limits included, in a
// sentence safe to show the caller.
func (ks *KeyStore) ValidateSpec(spec KeySpec) error {
	if err := validateSpec(spec); err != nil {
		return err
	}
	if ks.checkLimits != nil && len(spec.Limits) > 0 {
		if err := ks.checkLimits(spec.Limits); err != nil {
			return fmt.Errorf("auth: key limits: %w", err)
		}
	}
	return nil
}

// Create makes a key and returns its record and the key itself, which is
// shown once and cannot be recovered.
func (ks *KeyStore) Create(ctx context.Context, who Actor, spec KeySpec) (Key, string, error) {
	if err := ks.ValidateSpec(spec); err != nil {
		return Key{}, "", err
	}
	id, secret := newKeyID(), newKeySecret()
	k := Key{ID: id, Lineage: id, Name: spec.Name, Scopes: dedupScopes(spec.Scopes), Created: ks.now().UTC().Truncate(time.Second),
		Expires: spec.Expires, Limits: spec.Limits, Allow: spec.Allow, Deny: spec.Deny}
	if err := ks.insert(ctx, who, "key.create", k, secret, nil); err != nil {
		return Key{}, "", err
	}
	return k, FormatKey(id, secret), nil
}

// insert stores k (and, in the same transaction, runs then), audited.
func (ks *KeyStore) insert(ctx context.Context, who Actor, action string, k Key, secret string, then func(*store.Tx) error) error {
	details := map[string]string{"scopes": joinScopes(k.Scopes)}
	if k.ID != k.Lineage {
		details["lineage"] = k.Lineage
	}
	limits := string(k.Limits)
	if limits == "" {
		limits = "{}"
	}
	return ks.change(ctx, who, action, "key:"+k.ID, details, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_keys(id, lineage, name, scopes, hash, created_at, expires_at, limits, allow_cidrs, deny_cidrs)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, k.ID, k.Lineage, k.Name, joinScopes(k.Scopes), hashKey(ks.pepper, k.ID, secret),
			k.Created.Unix(), nullTime(k.Expires), limits, joinPrefixes(k.Allow), joinPrefixes(k.Deny)); err != nil {
			return err
		}
		if then != nil {
			return then(tx)
		}
		return nil
	})
}

// change applies fn and its audit record atomically when the recorder can
// join the transaction (audit.Log.RecordTx): both commit or neither. With
// a plain Recorder it audits first, so an action that cannot be audited
// never happens, and records an "error" entry if the change then fails.
func (ks *KeyStore) change(ctx context.Context, who Actor, action, target string, details map[string]string, fn func(*store.Tx) error) error {
	if ks.epoch == nil {
		return ks.commitAudited(ctx, who, action, target, details, fn)
	}
	// Bump the epoch before and after the commit (see keycache.go). A
	// failed first bump refuses the change; a failed second one is
	// reported, since caches elsewhere may then lag up to maxCacheAge.
	if err := ks.epoch.bump(); err != nil {
		return err
	}
	err := ks.commitAudited(ctx, who, action, target, details, fn)
	ks.cache.drop(strings.TrimPrefix(target, "key:"))
	if berr := ks.epoch.bump(); err == nil && berr != nil {
		return fmt.Errorf("auth: %s committed, but running servers may accept the old key state for up to %v: %w", action, maxCacheAge, berr)
	}
	return err
}

func (ks *KeyStore) commitAudited(ctx context.Context, who Actor, action, target string, details map[string]string, fn func(*store.Tx) error) error {
	ev := ks.event(who, action, target, "ok", details)
	if ks.txAudit != nil {
		err := ks.tx(ctx, func(tx *store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if err := ks.txAudit.RecordTx(ctx, tx, ev); err != nil {
				return fmt.Errorf("not audited, so not done: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("auth: %s: %w", action, err)
		}
		return nil
	}
	if err := ks.audit.Record(ctx, ev); err != nil {
		return fmt.Errorf("auth: %s not audited, so not done: %w", action, err)
	}
	if err := ks.tx(ctx, fn); err != nil {
		_ = ks.audit.Record(ctx, ks.event(who, action, target, "error", nil))
		return fmt.Errorf("auth: %s: %w", action, err)
	}
	return nil
}

// Revoke revokes id; the next request with it is refused.
func (ks *KeyStore) Revoke(ctx context.Context, who Actor, id string) error {
	k, err := ks.Get(ctx, id)
	if err != nil {
		return err
	}
	if !k.Revoked.IsZero() {
		return nil // idempotent
	}
	err = ks.change(ctx, who, "key.revoke", "key:"+id, nil, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE auth_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, ks.now().Unix(), id)
		return err
	})
	if err == nil {
		ks.revoked(k.ID, k.Subject())
	}
	return err
}

// revoked tells this process and the others that id (of subject) no
// longer authenticates.
func (ks *KeyStore) revoked(id, subject string) {
	if ks.onRevoke != nil {
		ks.onRevoke(subject)
	}
	if ks.announce != nil {
		ks.announce(id, subject)
	}
}

// RevokedElsewhere applies a revocation another process announced: the
// cached verification of id is dropped, so the next request with it reads
// the database, and OnRevoke closes what was derived from subject. An
// announcement is only a hint to re-read: a false one costs a database
// read and closes sockets that reconnect, never admits anything.
func (ks *KeyStore) RevokedElsewhere(id, subject string) {
	ks.cache.drop(id)
	if ks.onRevoke != nil {
		ks.onRevoke(subject)
	}
}

// Rotate issues a new key with id's name, scopes, expiry, limits and IP
// rules in the same lineage, and revokes id in the same transaction.
func (ks *KeyStore) Rotate(ctx context.Context, who Actor, id string) (Key, string, error) {
	old, err := ks.Get(ctx, id)
	if err != nil {
		return Key{}, "", err
	}
	if !old.Revoked.IsZero() {
		return Key{}, "", fmt.Errorf("auth: key %s is revoked; create a new one", id)
	}
	nid, secret := newKeyID(), newKeySecret()
	k := old
	k.ID, k.Created, k.LastUsed, k.RotatedTo = nid, ks.now().UTC().Truncate(time.Second), time.Time{}, ""
	err = ks.insert(ctx, who, "key.rotate", k, secret, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE auth_keys SET revoked_at = ?, rotated_to = ? WHERE id = ? AND revoked_at IS NULL`,
			ks.now().Unix(), nid, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("key %s was revoked meanwhile", id)
		}
		return nil
	})
	if err != nil {
		return Key{}, "", err
	}
	ks.revoked(old.ID, old.Subject())
	return k, FormatKey(nid, secret), nil
}

func (ks *KeyStore) event(who Actor, action, target, outcome string, details map[string]string) audit.Event {
	actor := who.ID
	if actor == "" {
		actor = "system"
	}
	return audit.Event{Time: ks.now().UTC(), Actor: actor, Action: action, Target: target,
		Outcome: outcome, RemoteIP: who.RemoteIP, RequestID: who.RequestID, Details: details}
}

func (ks *KeyStore) tx(ctx context.Context, fn func(*store.Tx) error) error {
	return ks.db.Tx(ctx, fn)
}

// Component names the auth tables' migrations in the store.
const Component = "auth"

// Migrate brings the auth tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, keyMigrations)
}
