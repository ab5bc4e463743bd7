package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Each component (store itself, auth, limit, audit, ...) owns its schema and
// migrates it with Migrate under its own name, so packages evolve their
// tables independently. Migrations are append-only: never edit or reorder
// an entry that has shipped.

// coreMigrations is store's own schema.
var coreMigrations = []string{
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
}

const coreComponent = "store"

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component TEXT NOT NULL, version INTEGER NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	return s.Migrate(ctx, coreComponent, coreMigrations)
}

// Migrate applies, in order and each in its own transaction, the statements
// of component's migrations that have not run yet (migrations[0] is version
// 1). It refuses a database whose schema for component is newer than this
// binary knows, so an older izwi cannot corrupt it.
func (s *Store) Migrate(ctx context.Context, component string, migrations []string) error {
	have, err := s.SchemaVersion(ctx, component)
	if err != nil {
		return fmt.Errorf("store: %s schema version: %w", component, err)
	}
	if have > len(migrations) {
		return fmt.Errorf("store: database schema %s/%d is newer than this binary's %d; refusing to run an older izwi on it",
			component, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if err := s.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations(component, version) VALUES(?, ?)", component, v)
			return err
		}); err != nil {
			return fmt.Errorf("store: %s migration %d: %w", component, v, err)
		}
	}
	return nil
}

// SchemaVersion returns how many of component's migrations have been applied.
func (s *Store) SchemaVersion(ctx context.Context, component string) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx,
		"SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?", component).Scan(&v)
	return v, err
}

// Tx runs fn in a transaction, committing if it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// DB is the handle components use for their own tables. SQLite allows one
// writer: keep write transactions short.
func (s *Store) DB() *sql.DB { return s.db }
