package vault

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The shred list is an append-only file of destroyed data-key ids (random,
// not personal), kept outside the database. A database restored from a
// backup taken before a shred still holds the wrapped key; at start the
// keyring re-applies the list, so restored data stays shredded. Keep the
// list where database backups cannot roll it back (beside the master key,
// backed up separately).

// appendShredList records id in the shred list and syncs it.
func (k *Keyring) appendShredList(id KeyID) error {
	if k.shredList == "" {
		return nil
	}
	dir := filepath.Dir(k.shredList)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("vault: shred list: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(k.shredList, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("vault: shred list: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("vault: shred list: %w", err)
	} else if err := checkPrivate(k.shredList, fi, 0o077); err != nil {
		return err
	}
	if _, err := f.WriteString(id.String() + "\n"); err != nil {
		return fmt.Errorf("vault: shred list: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("vault: shred list: %w", err)
	}
	return nil
}

// applyShredList shreds every live data key the list names (after a
// restore) and returns how many it shredded.
func (k *Keyring) applyShredList(ctx context.Context) (int, error) {
	if k.shredList == "" {
		return 0, nil
	}
	b, err := readPrivateFile(k.shredList, 64<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		id, err := ParseKeyID(string(line))
		if err != nil {
			return n, fmt.Errorf("vault: shred list %s: %w", k.shredList, err)
		}
		var live int
		if err := k.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM vault_keys WHERE id = ? AND destroyed_at IS NULL", id.String()).Scan(&live); err != nil {
			return n, fmt.Errorf("vault: %w", err)
		}
		if live == 0 {
			continue
		}
		if err := k.shred(WithActor(ctx, "system:shred-list"), id, false); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		k.log.Warn("vault: re-applied the shred list: data keys destroyed before were live again (a restored backup?)", "keys", n)
	}
	return n, sc.Err()
}
