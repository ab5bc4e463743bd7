package vault

import (
	"context"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the vault's tables (store.Migrate, append-only: never edit
// a shipped entry). Times are Unix nanoseconds.
//
// vault_keks records each master key the vault has seen (its id only, never
// the key) and when it was retired by a rotation. vault_keys holds one row
// per data key: the key wrapped by the master key named in kek_id. A shred
// zeroes and clears wrapped and kek_id (with secure_delete on, so the bytes
// leave the file) and keeps the row as a tombstone with destroyed_at, so
// that reading a shredded object says "shredded" rather than "unknown".
func migrations() store.Migrations {
	return store.Portable(
		`CREATE TABLE vault_keks (
			id TEXT PRIMARY KEY,
			provider TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			retired_at INTEGER
		);
		CREATE TABLE vault_keys (
			id TEXT PRIMARY KEY,
			class TEXT NOT NULL,
			owner TEXT NOT NULL,
			kek_id TEXT REFERENCES vault_keks(id),
			wrapped BLOB,
			created_at INTEGER NOT NULL,
			destroyed_at INTEGER,
			CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL AND kek_id IS NOT NULL))
		);
		CREATE UNIQUE INDEX vault_keys_live_owner ON vault_keys(class, owner) WHERE destroyed_at IS NULL;
		CREATE INDEX vault_keys_kek ON vault_keys(kek_id)`,
	)
}

// Component names the vault tables' migrations in the store.
const Component = "vault"

// Migrate brings the vault tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
