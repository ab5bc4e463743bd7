// Package store owns Izwi's database: which engine holds it (SQLite,
// embedded, the default; or PostgreSQL, for several processes on several
// machines), the per-component versioned migrations, and the handle every
// component's SQL runs on. Components write portable SQL (the subset both
// engines accept, with ? placeholders) against Store and Tx; only this
// package sees *sql.DB. It holds configuration, keys, usage and audit
// records, never audio or words in plaintext.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect is the database engine behind a Store.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Store is an open database with its core schema migrated.
type Store struct {
	querier // ExecContext, QueryContext, QueryRowContext on db
	db      *sql.DB
	dialect Dialect
	// where names the database for messages: the SQLite path, or the
	// PostgreSQL DSN without its password.
	where string
}

// IsDSN reports whether database names a PostgreSQL server (a postgres://
// or postgresql:// URL) rather than a SQLite file.
func IsDSN(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Open opens database: a postgres:// DSN, or else the path of a SQLite file
// (created if needed, restricted to its owner). Pending core migrations are
// applied; components migrate their own tables (Migrate).
func Open(ctx context.Context, database string) (*Store, error) {
	if database == "" {
		return nil, errors.New("store: empty database path")
	}
	if IsDSN(database) {
		return openPostgres(ctx, database)
	}
	return openSQLite(ctx, database)
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// WAL for concurrent readers; foreign keys on; a busy timeout so that
	// concurrent writers queue instead of failing. Transactions begin
	// IMMEDIATE: they take the write lock at BEGIN, so one that reads and
	// then writes (the audit chain's head, a quota) cannot find, at its
	// first write, that another process wrote since it read (SQLITE_BUSY
	// with no retry); they queue on the busy timeout instead.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite has one writer; a single connection avoids SQLITE_BUSY storms
	// and keeps transactions strictly serial.
	db.SetMaxOpenConns(1)
	s := &Store{querier: querier{db, SQLite}, db: db, dialect: SQLite, where: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.Close()
			return nil, fmt.Errorf("store: chmod %s: %w", f, err)
		}
	}
	return s, nil
}

// Dialect says which engine holds the data.
func (s *Store) Dialect() Dialect { return s.dialect }

// Where names the database for messages (never with a password).
func (s *Store) Where() string { return s.where }

// Check is a readiness probe.
func (s *Store) Check(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Meta returns the value stored under key, or "" and no error if absent.
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta stores value under key.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.ExecContext(ctx,
		"INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Strings runs query and returns its single text column, every row read
// and the rows closed before it returns. Callers that go on to use the
// store for each row (decrypting through the vault, one transaction per
// row) need that: a SQLite store has one connection, which open rows would
// hold.
func (s *Store) Strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
