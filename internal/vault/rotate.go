package vault

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// Rotation reports a master-key rotation.
type Rotation struct {
	Provider  string `json:"provider"`
	From      string `json:"from"`      // the retired master key's id
	To        string `json:"to"`        // the new master key's id
	Rewrapped int    `json:"rewrapped"` // data keys re-wrapped by this run
}

// Rotate replaces the master key online: the provider stages a new key,
// every live data key is re-wrapped under it in one transaction (audited in
// it), the WAL is truncated, and only then does the provider promote the new
// key and destroy the old one. A crash at any point leaves every object
// readable: before the commit the old key still wraps everything; after it
// the staged key does and the keyring holds both. Running Rotate again
// finishes the job (it is idempotent); data keys are re-wrapped, never
// re-encrypted, so sealed objects are untouched.
func (k *Keyring) Rotate(ctx context.Context) (Rotation, error) {
	k.op.Lock()
	defer k.op.Unlock()
	if err := k.reload(ctx); err != nil {
		return Rotation{}, err
	}
	prov := k.provider()
	next, err := prov.Stage(ctx)
	if err != nil {
		return Rotation{}, fmt.Errorf("vault: stage a new master key: %w", err)
	}
	if err := k.reload(ctx); err != nil {
		return Rotation{}, err
	}
	if k.current().ID != next.ID {
		return Rotation{}, fmt.Errorf("vault: the %s provider staged key %s but does not return it", prov.Name(), next.ID)
	}
	k.mu.Lock()
	from := k.cur.ID
	k.mu.Unlock()
	r := Rotation{Provider: prov.Name(), From: from, To: next.ID}
	r.Rewrapped, err = k.rewrapAll(ctx, next, "vault.rotate", map[string]string{"provider": r.Provider, "from": from})
	if err != nil {
		return r, fmt.Errorf("vault: rotate: %w", err)
	}
	if err := prov.Promote(ctx); err != nil {
		return r, fmt.Errorf("vault: rotate: every data key is under %s, but promoting it failed (run rotate again): %w", next.ID, err)
	}
	return r, k.reload(ctx)
}

// kekLock serialises, across processes sharing a PostgreSQL database, a
// rotation's re-wrap and retirement with the wrapping of new data keys.
const kekLock = "vault-keks"

// rewrapAll re-wraps every live data key under next in one transaction,
// refuses to commit while any is left under another key, retires the other
// master keys and audits action in the same transaction. The WAL is
// truncated after, so old wrappings leave it.
func (k *Keyring) rewrapAll(ctx context.Context, next KEK, action string, details map[string]string) (int, error) {
	var n int
	err := k.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.Lock(ctx, kekLock); err != nil {
			return err
		}
		if err := tx.SecureDelete(ctx); err != nil {
			return err
		}
		var err error
		if n, err = k.rewrap(ctx, tx, next); err != nil {
			return err
		}
		var left int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM vault_keys WHERE destroyed_at IS NULL AND kek_id <> ?",
			next.ID).Scan(&left); err != nil {
			return err
		}
		if left != 0 { // retiring a master key that still wraps something is refused
			return fmt.Errorf("%d data keys are still wrapped under an old master key", left)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE vault_keks SET retired_at = ? WHERE id <> ? AND retired_at IS NULL",
			k.now().UnixNano(), next.ID); err != nil {
			return err
		}
		details["rewrapped"] = strconv.Itoa(n)
		return k.rec.RecordTx(ctx, tx, audit.Event{Actor: actorOf(ctx), Action: action, Target: "vault_kek:" + next.ID,
			Outcome: "ok", Details: details})
	})
	if err != nil {
		return 0, err
	}
	k.checkpoint(ctx)
	return n, nil
}

// rewrap re-wraps every live data key not yet under next.
func (k *Keyring) rewrap(ctx context.Context, tx *store.Tx, next KEK) (int, error) {
	type row struct {
		id           KeyID
		class, owner string
		kekID        string
		wrapped      []byte
	}
	rs, err := tx.QueryContext(ctx, "SELECT id, class, owner, kek_id, wrapped FROM vault_keys WHERE destroyed_at IS NULL AND kek_id <> ?", next.ID)
	if err != nil {
		return 0, err
	}
	var todo []row
	for rs.Next() {
		var r row
		var id string
		if err := rs.Scan(&id, &r.class, &r.owner, &r.kekID, &r.wrapped); err != nil {
			rs.Close()
			return 0, err
		}
		if r.id, err = ParseKeyID(id); err != nil {
			rs.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, err
	}
	for _, r := range todo {
		old, ok := k.kek(r.kekID)
		if !ok {
			return 0, fmt.Errorf("%w: data key %s is under master key %s", ErrNoMasterKey, r.id, r.kekID)
		}
		dek, err := unwrap(old.key, r.wrapped, wrapAAD(r.id, Class(r.class), r.owner, old.ID))
		if err != nil {
			return 0, fmt.Errorf("data key %s: %w", r.id, err)
		}
		w, err := wrap(next.key, dek, wrapAAD(r.id, Class(r.class), r.owner, next.ID))
		clear(dek)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE vault_keys SET kek_id = ?, wrapped = ? WHERE id = ?", next.ID, w, r.id.String()); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

// Status is what `izwi vault status` shows. It holds ids and counts only.
type Status struct {
	Provider string `json:"provider"`
	// KEKID is the current master key's id; KEKCreated when the vault first
	// saw it.
	KEKID      string    `json:"kek_id"`
	KEKCreated time.Time `json:"kek_created"`
	// StagedKEKID is set while a rotation is unfinished: run rotate again.
	StagedKEKID string `json:"staged_kek_id,omitempty"`
	// Keys counts live data keys by class; Shredded counts destroyed ones.
	Keys     map[Class]int `json:"keys"`
	Shredded int           `json:"shredded"`
	// Retired counts master keys retired by rotations.
	Retired int `json:"retired_master_keys"`
}

// KEKAge is how long the current master key has been in use.
func (s Status) KEKAge(now time.Time) time.Duration { return now.Sub(s.KEKCreated) }

// Status reports the provider, the master key's id and age, and data-key counts.
func (k *Keyring) Status(ctx context.Context) (Status, error) {
	if err := k.reload(ctx); err != nil {
		return Status{}, err
	}
	k.mu.Lock()
	st := Status{Provider: k.prov.Name(), KEKID: k.cur.ID, Keys: map[Class]int{}} // k.mu held
	if k.next != nil {
		st.StagedKEKID = k.next.ID
	}
	k.mu.Unlock()
	var created int64
	if err := k.db.QueryRowContext(ctx, "SELECT created_at FROM vault_keks WHERE id = ?", st.KEKID).Scan(&created); err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	st.KEKCreated = time.Unix(0, created).UTC()
	rows, err := k.db.QueryContext(ctx, "SELECT class, destroyed_at IS NOT NULL, COUNT(*) FROM vault_keys GROUP BY 1, 2")
	if err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var class string
		var dead bool
		var n int
		if err := rows.Scan(&class, &dead, &n); err != nil {
			return st, fmt.Errorf("vault: status: %w", err)
		}
		if dead {
			st.Shredded += n
		} else {
			st.Keys[Class(class)] = n
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("vault: status: %w", err)
	}
	err = k.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM vault_keks WHERE retired_at IS NOT NULL").Scan(&st.Retired)
	return st, err
}
