package store

import (
	"context"
	"fmt"
	"regexp"
)

// Each component (store itself, auth, limit, audit, ...) owns its schema and
// migrates it with Migrate under its own name, so packages evolve their
// tables independently. Migrations are append-only: never edit or reorder
// an entry that has shipped.

// Migrations are one component's schema steps, per dialect: the same
// number of steps in each, step i doing the same thing in both (PostgreSQL
// spells SQLite's BLOB as BYTEA, its 64-bit INTEGER as BIGINT, its REAL as
// DOUBLE PRECISION, and its triggers as functions).
type Migrations struct {
	SQLite, Postgres []string
}

// Same is for steps whose SQL both dialects accept unchanged.
func Same(steps ...string) Migrations { return Migrations{SQLite: steps, Postgres: steps} }

// Portable is for SQLite steps that differ from PostgreSQL's only in how
// column types are spelt: the PostgreSQL steps are the same text with
// BLOB as BYTEA, INTEGER as BIGINT (SQLite's integers are 64-bit) and REAL
// as DOUBLE PRECISION. Anything else that differs (triggers, functions)
// needs its own Migrations{SQLite: ..., Postgres: ...}.
func Portable(steps ...string) Migrations {
	pg := make([]string, len(steps))
	for i, s := range steps {
		pg[i] = pgTypes.ReplaceAllStringFunc(s, func(w string) string { return pgTypeOf[w] })
	}
	return Migrations{SQLite: steps, Postgres: pg}
}

var (
	pgTypes  = regexp.MustCompile(`\b(BLOB|INTEGER|REAL)\b`)
	pgTypeOf = map[string]string{"BLOB": "BYTEA", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
)

func (m Migrations) steps(d Dialect) []string {
	if d == Postgres {
		return m.Postgres
	}
	return m.SQLite
}

// coreMigrations is store's own schema.
var coreMigrations = Same(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)

const coreComponent = "store"

func (s *Store) migrate(ctx context.Context) error {
	now := `strftime('%Y-%m-%dT%H:%M:%fZ','now')`
	if s.dialect == Postgres {
		now = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
	}
	// Under a lock: PostgreSQL's IF NOT EXISTS is not safe against two
	// processes creating the table at once.
	if err := s.Tx(ctx, func(tx *Tx) error {
		if err := tx.Lock(ctx, "schema_migrations"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component TEXT NOT NULL, version INTEGER NOT NULL,
			applied_at TEXT NOT NULL DEFAULT (`+now+`),
			PRIMARY KEY (component, version))`)
		return err
	}); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	return s.Migrate(ctx, coreComponent, coreMigrations)
}

// Migrate applies, in order and each in its own transaction, the steps of
// component's migrations for this store's dialect that have not run yet
// (step 0 is version 1). It refuses a database whose schema for component
// is newer than this binary knows, so an older izwi cannot corrupt it.
// Several processes starting at once on one PostgreSQL server take turns
// (an advisory lock per component).
func (s *Store) Migrate(ctx context.Context, component string, m Migrations) error {
	if len(m.SQLite) != len(m.Postgres) {
		return fmt.Errorf("store: %s has %d SQLite and %d PostgreSQL migrations; they must pair up",
			component, len(m.SQLite), len(m.Postgres))
	}
	steps := m.steps(s.dialect)
	for {
		have, err := s.SchemaVersion(ctx, component)
		if err != nil {
			return fmt.Errorf("store: %s schema version: %w", component, err)
		}
		if have > len(steps) {
			return fmt.Errorf("store: database schema %s/%d is newer than this binary's %d; refusing to run an older izwi on it",
				component, have, len(steps))
		}
		if have == len(steps) {
			return nil
		}
		v := have + 1
		if err := s.Tx(ctx, func(tx *Tx) error {
			if err := tx.Lock(ctx, "migrate:"+component); err != nil {
				return err
			}
			var now int
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?", component).Scan(&now); err != nil {
				return err
			}
			if now != have {
				return nil // another process migrated meanwhile: look again
			}
			if _, err := tx.ExecContext(ctx, steps[v-1]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations(component, version) VALUES(?, ?)", component, v)
			return err
		}); err != nil {
			return fmt.Errorf("store: %s migration %d: %w", component, v, err)
		}
	}
}

// SchemaVersion returns how many of component's migrations have been applied.
func (s *Store) SchemaVersion(ctx context.Context, component string) (int, error) {
	var v int
	err := s.QueryRowContext(ctx,
		"SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?", component).Scan(&v)
	return v, err
}
