package admin

import (
	"context"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the admin component's tables (store.Migrate, append-only:
// never edit a shipped entry). Times are Unix nanoseconds. Secrets are
// stored only as hashes, except the TOTP secret, which the server needs to
// compute codes: totp_secret and totp_pending hold it sealed by the privacy
// vault (credentials.go); plaintext left by earlier versions is sealed at
// start.
func migrations() store.Migrations {
	return store.Portable(
		`CREATE TABLE admin_users (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL CHECK (role IN ('admin', 'operator')),
			password_hash TEXT NOT NULL,
			disabled INTEGER NOT NULL DEFAULT 0,
			totp_secret BLOB,
			totp_pending BLOB,
			totp_last_step INTEGER NOT NULL DEFAULT -1,
			created_at INTEGER NOT NULL,
			password_changed_at INTEGER NOT NULL
		);
		CREATE TABLE admin_recovery_codes (
			user_id TEXT NOT NULL REFERENCES admin_users(id),
			code_hash TEXT NOT NULL,
			used_at INTEGER,
			PRIMARY KEY (user_id, code_hash)
		);
		CREATE TABLE admin_sessions (
			token_hash TEXT PRIMARY KEY,
			id TEXT NOT NULL UNIQUE,
			user_id TEXT NOT NULL REFERENCES admin_users(id),
			stage TEXT NOT NULL CHECK (stage IN ('mfa', 'full')),
			created_at INTEGER NOT NULL,
			last_seen INTEGER NOT NULL
		);
		CREATE INDEX admin_sessions_user ON admin_sessions(user_id);
		CREATE TABLE admin_login_failures (
			name_key TEXT PRIMARY KEY,
			failures INTEGER NOT NULL,
			last_failure INTEGER NOT NULL
		);
		CREATE TABLE admin_setup (
			id INTEGER PRIMARY KEY CHECK (id = 1),
			token_hash TEXT NOT NULL,
			expires_at INTEGER NOT NULL,
			used INTEGER NOT NULL DEFAULT 0
		)`,
		// recovery_key: a per-user HMAC key for recovery-code hashes, sealed
		// by the vault (credentials.go), so the stored hashes are useless
		// without the vault and die with the user's shredded credential key.
		`ALTER TABLE admin_users ADD COLUMN recovery_key BLOB`,
	)
}

// Component names the admin tables' migrations in the store.
const Component = "admin"

// Migrate brings the admin tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
