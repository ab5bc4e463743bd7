// Package vault owns Izwi's privacy keyring: envelope encryption of
// personal data at rest, crypto-shredding and the master key. A master key
// (KEK) comes from a Provider (file, passphrase, environment/credential or a
// TPM 2.0 seal) and never touches the database; each object owner gets a
// 256-bit data key (DEK) from crypto/rand, stored only wrapped by the KEK in
// the vault_keys table. Objects are sealed with XChaCha20-Poly1305 in a
// versioned envelope bound to (class, object id, key id). Shred destroys a
// data key so that its objects are unreadable even with the master key in
// hand; Rotate re-wraps every data key under a new master key in one
// transaction. Components that store voiceprints, transcripts, snippets,
// consent records or credentials import it; it imports only the store-level
// and audit types.
package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// Class is the kind of personal data an object holds. It is part of every
// sealed object's associated data and of the key statistics.
type Class string

// The object classes issue 6 protects.
const (
	ClassVoiceprint Class = "voiceprint" // biometric: speaker embeddings
	ClassTranscript Class = "transcript" // opt-in stored transcripts
	ClassSnippet    Class = "snippet"    // opt-in low-confidence review audio
	ClassConsent    Class = "consent"    // consent records (BIPA/GDPR)
	ClassCredential Class = "credential" // secrets Izwi must keep readable (TOTP seeds, provider keys)
	ClassSubject    Class = "subject"    // a data subject's key shared by their objects of every class
)

// Classes lists every class, in display order.
func Classes() []Class {
	return []Class{ClassVoiceprint, ClassTranscript, ClassSnippet, ClassConsent, ClassCredential, ClassSubject}
}

func (c Class) valid() bool {
	for _, k := range Classes() {
		if c == k {
			return true
		}
	}
	return false
}

// Errors callers test for with errors.Is.
var (
	// ErrShredded means the object's data key was destroyed: the data is
	// gone for good (the ciphertext may remain; nobody can read it).
	ErrShredded = errors.New("vault: shredded: the data key was destroyed")
	// ErrAuth means decryption failed: the blob, its class or object id, or
	// the wrapped key was altered, or the blob belongs to another object.
	ErrAuth = errors.New("vault: authentication failed: the data was altered or belongs to another object")
	// ErrMalformed means the input is not a sealed blob this build reads.
	ErrMalformed = errors.New("vault: malformed")
	// ErrUnknownKey means no data key has the blob's key id.
	ErrUnknownKey = errors.New("vault: unknown data key")
	// ErrNoMasterKey means a data key is wrapped under a master key the
	// provider does not hold (a wrong passphrase or key file).
	ErrNoMasterKey = errors.New("vault: the master key that wraps this data key is not available")
)

// TxRecorder appends an audit entry inside the caller's transaction, so a
// shred or rotation and its entry commit together (audit.Log implements it).
type TxRecorder interface {
	RecordTx(ctx context.Context, tx *store.Tx, e audit.Event) error
}

var _ TxRecorder = (*audit.Log)(nil)

// Options are the keyring's dependencies.
type Options struct {
	Store    *store.Store
	Provider Provider
	// Audit records every shred and rotation; required.
	Audit  TxRecorder
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ShredListPath is an append-only file of shredded key ids, re-applied
	// at start so a restored pre-shred backup stays shredded; keep it out
	// of database backups. Empty keeps no list.
	ShredListPath string
}

// Keyring seals and opens objects, shreds keys and rotates the master key.
// Safe for concurrent use; several processes (izwi serve and the izwi vault
// tool) may share one database: a master key rotated by another process is
// picked up from the provider on first sight of its id.
type Keyring struct {
	st  *store.Store
	db  *store.Store
	rec TxRecorder
	log *slog.Logger
	now func() time.Time
	// shredList is the shred list's path ("" for none).
	shredList string

	// op serialises rotations and provider moves in this process (across
	// processes, SQLite's single writer does).
	op sync.Mutex

	mu   sync.Mutex // guards prov, cur, next
	prov Provider
	cur  KEK
	next *KEK
}

// New migrates the vault tables, loads the master key and checks that it
// unwraps the stored data keys: a wrong passphrase or key file stops here,
// before anything is sealed under it, and the error says nothing of the key.
func New(ctx context.Context, opts Options) (*Keyring, error) {
	if opts.Store == nil || opts.Provider == nil || opts.Audit == nil {
		return nil, errors.New("vault: a store, a master-key provider and an audit recorder are required")
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	k := &Keyring{st: opts.Store, db: opts.Store, prov: opts.Provider, rec: opts.Audit, log: opts.Logger, now: opts.Now,
		shredList: opts.ShredListPath}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if err := k.refuseToInvent(ctx); err != nil {
		return nil, err
	}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if err := k.checkKeys(ctx); err != nil {
		return nil, err
	}
	if _, err := k.applyShredList(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// firstUse is implemented by providers that make their key on first use;
// stored names where it is kept.
type firstUse interface {
	stored() (where string, ok bool)
}

var (
	_ firstUse = (*FileProvider)(nil)
	_ firstUse = (*PassphraseProvider)(nil)
	_ firstUse = (*TPMProvider)(nil)
)

// refuseToInvent stops a provider from making a fresh master key when data
// keys already exist: the real one is missing (an unmounted volume, a lost
// file), and a new key would only hide that until every read fails.
func (k *Keyring) refuseToInvent(ctx context.Context) error {
	fu, ok := k.provider().(firstUse)
	if !ok {
		return nil
	}
	where, present := fu.stored()
	if present {
		return nil
	}
	var n int
	if err := k.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM vault_keys WHERE destroyed_at IS NULL").Scan(&n); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %d data keys exist, but the master key (%s) is missing; restore it (an unmounted volume? a lost file?) "+
			"rather than start with a new one", ErrNoMasterKey, n, where)
	}
	return nil
}

// reload reads the master keys from the provider and records a new one.
func (k *Keyring) reload(ctx context.Context) error {
	prov := k.provider()
	cur, next, err := prov.Keys(ctx)
	if err != nil {
		return fmt.Errorf("vault: %s master key: %w", prov.Name(), err)
	}
	for _, kek := range []*KEK{&cur, next} {
		if kek == nil {
			continue
		}
		if _, err := k.db.ExecContext(ctx, "INSERT INTO vault_keks (id, provider, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
			kek.ID, prov.Name(), k.now().UnixNano()); err != nil {
			return fmt.Errorf("vault: record master key: %w", err)
		}
	}
	k.mu.Lock()
	if k.prov == prov { // MoveTo may have switched providers meanwhile
		k.cur, k.next = cur, next
	}
	k.mu.Unlock()
	return nil
}

// provider is the current master-key provider.
func (k *Keyring) provider() Provider {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.prov
}

// checkKeys refuses to start when live data keys are wrapped under a master
// key the provider does not hold. A KEK's id is a keyed hash of its bytes,
// so a matching id means the same key.
func (k *Keyring) checkKeys(ctx context.Context) error {
	rows, err := k.db.QueryContext(ctx, "SELECT kek_id, COUNT(*) FROM vault_keys WHERE destroyed_at IS NULL GROUP BY kek_id")
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("vault: %w", err)
		}
		if _, ok := k.kek(id); !ok {
			return fmt.Errorf("%w: %d data keys are wrapped under master key %s, which the %s provider does not hold "+
				"(wrong passphrase or key file?)", ErrNoMasterKey, n, id, k.provider().Name())
		}
	}
	return rows.Err()
}

// kek returns the known master key with id.
func (k *Keyring) kek(id string) (KEK, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur.ID == id {
		return k.cur, true
	}
	if k.next != nil && k.next.ID == id {
		return *k.next, true
	}
	return KEK{}, false
}

// kekFor returns master key id, reloading the provider once when it is
// unknown (another process may have rotated it).
func (k *Keyring) kekFor(ctx context.Context, id string) (KEK, error) {
	if kek, ok := k.kek(id); ok {
		return kek, nil
	}
	if err := k.reload(ctx); err != nil {
		return KEK{}, err
	}
	if kek, ok := k.kek(id); ok {
		return kek, nil
	}
	return KEK{}, fmt.Errorf("%w (master key %s)", ErrNoMasterKey, id)
}

// current is the master key new data keys are wrapped under. A key staged by
// an unfinished rotation is used as soon as it exists, so nothing new is
// wrapped under a key that is on its way out.
func (k *Keyring) current() KEK {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.next != nil {
		return *k.next
	}
	return k.cur
}

// actorKey carries the audit actor of a shred or rotation.
type actorKey struct{}

// WithActor returns ctx carrying who asks for a shred or rotation ("user:<id>",
// "system:cli"); the audit entry names them. Without it the actor is "system".
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}

// checkpoint folds the WAL into the database file and truncates it, so
// pages that held a destroyed key leave the WAL as well. A reader in another
// process can make it partial; the next checkpoint finishes the job.
func (k *Keyring) checkpoint(ctx context.Context) {
	busy, err := k.db.Checkpoint(ctx)
	if err != nil || busy {
		k.log.Warn("vault: WAL checkpoint incomplete; shredded key pages may stay in the WAL until the next one",
			"busy", busy, "err", err)
	}
}
