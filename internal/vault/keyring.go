package vault

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// Seal encrypts plaintext as object objectID of class under the data key
// owned by that object, creating the key on first use. The blob names its
// key, so Open needs only the class and object id it was sealed for.
func (k *Keyring) Seal(ctx context.Context, class Class, objectID string, plaintext []byte) ([]byte, error) {
	id, err := k.Key(ctx, class, objectID)
	if err != nil {
		return nil, err
	}
	return k.SealUnder(ctx, id, class, objectID, plaintext)
}

// Key returns the live data key of (class, owner), creating it if there is
// none (or the last one was shredded). A data subject's objects of several
// classes can share one key (class ClassSubject, owner "subject:<id>"), so
// one Shred erases all of them.
func (k *Keyring) Key(ctx context.Context, class Class, owner string) (KeyID, error) {
	if err := checkRef(class, owner); err != nil {
		return KeyID{}, err
	}
	if id, err := k.liveKey(ctx, class, owner); err == nil || !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	dek := make([]byte, dekSize)
	rand.Read(dek)
	defer clear(dek)
	id := newKeyID()
	for range 3 {
		kek := k.current()
		w, err := wrap(kek.key, dek, wrapAAD(id, class, owner, kek.ID))
		if err != nil {
			return KeyID{}, err
		}
		// Wrap only under a master key no rotation has retired: another
		// process may have re-wrapped everything and be about to destroy
		// the key this one still holds. Two callers racing for the same
		// owner: the unique index keeps the first key, the second re-reads.
		// On PostgreSQL the rotation lock orders this after (or before) a
		// rotation in another process, whose retirement the insert then sees.
		if err := k.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.Lock(ctx, kekLock); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO vault_keys (id, class, owner, kek_id, wrapped, created_at)
				SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM vault_keks WHERE id = ? AND retired_at IS NULL)
				ON CONFLICT DO NOTHING`, id.String(), string(class), owner, kek.ID, w, k.now().UnixNano(), kek.ID)
			return err
		}); err != nil {
			return KeyID{}, fmt.Errorf("vault: store data key: %w", err)
		}
		got, err := k.liveKey(ctx, class, owner)
		if !errors.Is(err, sql.ErrNoRows) {
			return got, err
		}
		if err := k.reload(ctx); err != nil { // our master key was retired
			return KeyID{}, err
		}
	}
	return KeyID{}, fmt.Errorf("vault: no current master key to wrap a data key under (is a rotation running?)")
}

func (k *Keyring) liveKey(ctx context.Context, class Class, owner string) (KeyID, error) {
	var s string
	err := k.db.QueryRowContext(ctx, "SELECT id FROM vault_keys WHERE class = ? AND owner = ? AND destroyed_at IS NULL",
		string(class), owner).Scan(&s)
	if err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("vault: %w", err)
		}
		return KeyID{}, err
	}
	return ParseKeyID(s)
}

// SealUnder encrypts plaintext as object objectID of class under data key id
// (from Key). The class and object id are bound into the blob.
func (k *Keyring) SealUnder(ctx context.Context, id KeyID, class Class, objectID string, plaintext []byte) ([]byte, error) {
	if err := checkRef(class, objectID); err != nil {
		return nil, err
	}
	if len(plaintext) > maxPlaintext {
		return nil, fmt.Errorf("vault: %d bytes is over the %d-byte object limit", len(plaintext), maxPlaintext)
	}
	dek, err := k.dek(ctx, id)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	hdr := newHeader(id)
	return seal(dek, hdr, objectAAD(hdr, class, objectID), plaintext)
}

// Open decrypts a blob sealed as object objectID of class. It fails with
// ErrShredded when the key was destroyed, ErrAuth when anything was altered
// or the blob belongs to another object, ErrMalformed for what is not a
// blob; it never returns partial plaintext.
func (k *Keyring) Open(ctx context.Context, class Class, objectID string, blob []byte) ([]byte, error) {
	if err := checkRef(class, objectID); err != nil {
		return nil, err
	}
	h, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	dek, err := k.dek(ctx, h.keyID)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return open(dek, h.nonce, h.body, objectAAD(h.raw, class, objectID))
}

// dek reads and unwraps data key id. The row is read every time (no cache),
// so a shred by another process takes effect on the next call.
func (k *Keyring) dek(ctx context.Context, id KeyID) ([]byte, error) {
	var class, owner string
	var kekID sql.NullString
	var wrapped []byte
	var destroyed sql.NullInt64
	err := k.db.QueryRowContext(ctx, "SELECT class, owner, kek_id, wrapped, destroyed_at FROM vault_keys WHERE id = ?",
		id.String()).Scan(&class, &owner, &kekID, &wrapped, &destroyed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("%w %s", ErrUnknownKey, id)
	case err != nil:
		return nil, fmt.Errorf("vault: read data key: %w", err)
	case destroyed.Valid:
		return nil, ErrShredded
	}
	kek, err := k.kekFor(ctx, kekID.String)
	if err != nil {
		return nil, err
	}
	dek, err := unwrap(kek.key, wrapped, wrapAAD(id, Class(class), owner, kek.ID))
	if err != nil {
		return nil, fmt.Errorf("vault: data key %s: %w", id, err)
	}
	return dek, nil
}

// Shred destroys data key id: its wrapped bytes are overwritten with zeros
// and cleared with SQLite's secure_delete on, the row stays as a tombstone,
// the destruction is audited in the same transaction, and the WAL is
// checkpointed and truncated so no copy of the wrapped key stays in it.
// Every object sealed under it is unreadable from then on, master key or
// not. Shredding a shredded key is a no-op.
func (k *Keyring) Shred(ctx context.Context, id KeyID) error { return k.shred(ctx, id, true) }

// shred destroys id; list adds it to the shred list.
func (k *Keyring) shred(ctx context.Context, id KeyID, list bool) error {
	var class string
	err := k.st.Tx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT class FROM vault_keys WHERE id = ? AND destroyed_at IS NULL", id.String()).Scan(&class)
		if err != nil {
			return err
		}
		if err := tx.SecureDelete(ctx); err != nil {
			return err
		}
		var n int // overwrite the wrapped key in place before clearing it
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(length(wrapped), 0) FROM vault_keys WHERE id = ?", id.String()).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE vault_keys SET wrapped = ? WHERE id = ?", make([]byte, n), id.String()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE vault_keys SET wrapped = NULL, kek_id = NULL, destroyed_at = ? WHERE id = ?",
			k.now().UnixNano(), id.String()); err != nil {
			return err
		}
		return k.rec.RecordTx(ctx, tx, audit.Event{Actor: actorOf(ctx), Action: "vault.shred", Target: "vault_key:" + id.String(),
			Outcome: "ok", Details: map[string]string{"class": class}})
	})
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if qerr := k.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM vault_keys WHERE id = ?", id.String()).Scan(&n); qerr == nil && n == 1 {
			return nil // already shredded
		}
		return fmt.Errorf("%w %s", ErrUnknownKey, id)
	}
	if err != nil {
		return fmt.Errorf("vault: shred %s: %w", id, err)
	}
	k.checkpoint(ctx)
	if list {
		if err := k.appendShredList(id); err != nil {
			return fmt.Errorf("vault: key %s is shredded, but a restored backup could revive it: %w", id, err)
		}
	}
	return nil
}

// ShredOwner destroys the live data key of (class, owner), if any, and
// reports whether there was one.
func (k *Keyring) ShredOwner(ctx context.Context, class Class, owner string) (bool, error) {
	if err := checkRef(class, owner); err != nil {
		return false, err
	}
	id, err := k.liveKey(ctx, class, owner)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, k.Shred(ctx, id)
}

func checkRef(class Class, id string) error {
	if !class.valid() {
		return fmt.Errorf("vault: unknown object class %q", class)
	}
	if id == "" || len(id) > maxObjectID {
		return fmt.Errorf("vault: object id of %d bytes: want 1..%d", len(id), maxObjectID)
	}
	return nil
}
