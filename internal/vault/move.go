package vault

import (
	"context"
	"fmt"
)

// MoveTo re-wraps every data key under the master key of another provider
// — off a TPM before a firmware update (and back after), or from a key
// file to a passphrase — in one audited transaction ("vault.move"), and
// makes the keyring use it. The old provider's key is left where it is:
// once the configuration names the new provider, delete it (izwi vault
// move prints where). Until then a process still configured for the old
// provider refuses to start, naming the master key it lacks.
func (k *Keyring) MoveTo(ctx context.Context, to Provider) (Rotation, error) {
	k.op.Lock()
	defer k.op.Unlock()
	if err := k.reload(ctx); err != nil {
		return Rotation{}, err
	}
	from := k.provider()
	next, staged, err := to.Keys(ctx)
	if err != nil {
		return Rotation{}, fmt.Errorf("vault: %s master key: %w", to.Name(), err)
	}
	if staged != nil {
		return Rotation{}, fmt.Errorf("vault: the %s provider has an unfinished rotation; finish it there first", to.Name())
	}
	k.mu.Lock()
	fromID := k.cur.ID
	k.mu.Unlock()
	r := Rotation{Provider: to.Name(), From: fromID, To: next.ID}
	if _, err := k.db.ExecContext(ctx, "INSERT INTO vault_keks (id, provider, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
		next.ID, to.Name(), k.now().UnixNano()); err != nil {
		return r, fmt.Errorf("vault: record master key: %w", err)
	}
	r.Rewrapped, err = k.rewrapAll(ctx, next, "vault.move", map[string]string{"from_provider": from.Name(), "to_provider": to.Name(), "from": fromID})
	if err != nil {
		return r, fmt.Errorf("vault: move to %s: %w", to.Name(), err)
	}
	k.mu.Lock()
	k.prov, k.cur, k.next = to, next, nil
	k.mu.Unlock()
	return r, nil
}
