package store

import (
	"context"
	"database/sql"
	"hash/fnv"
	"strconv"
	"strings"
)

// Querier is what a component's SQL runs on: the Store itself or a Tx.
// Queries use ? placeholders; PostgreSQL gets them as $1, $2, ...
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*Store)(nil)
	_ Querier = (*Tx)(nil)
)

// querier runs a component's SQL on r (a *sql.DB or *sql.Tx, which share
// Querier's methods) in dialect d: the Querier methods of Store and Tx.
type querier struct {
	r Querier
	d Dialect
}

// ExecContext runs a statement.
func (q querier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.r.ExecContext(ctx, q.d.rebind(query), q.d.args(args)...)
}

// QueryContext runs a query. On SQLite, open rows hold the store's one
// connection: read them all before using the store again.
func (q querier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.r.QueryContext(ctx, q.d.rebind(query), q.d.args(args)...)
}

// QueryRowContext runs a query expected to return at most one row.
func (q querier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return q.r.QueryRowContext(ctx, q.d.rebind(query), q.d.args(args)...)
}

// Tx is one transaction on the store.
type Tx struct {
	querier
	tx      *sql.Tx
	dialect Dialect
}

// Dialect says which engine runs the transaction.
func (t *Tx) Dialect() Dialect { return t.dialect }

// Lock serialises the rest of the transaction with every other transaction,
// in any process, that takes the same named lock: on PostgreSQL a
// transaction-scoped advisory lock, released at commit or rollback; on
// SQLite nothing, since its transactions begin IMMEDIATE and so already
// hold the database's one write lock (and a store has one connection).
// Take it before reading what the transaction's writes depend on (the
// audit chain's head, a quota's usage).
func (t *Tx) Lock(ctx context.Context, name string) error {
	if t.dialect != Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("izwi:" + name))
	_, err := t.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64()))
	return err
}

// SecureDelete makes the transaction's deletes overwrite the freed content
// (SQLite's secure_delete). PostgreSQL has no such switch: deleted tuples
// stay in the heap until VACUUM reclaims them, which is why sealed values
// are sealed (their keys are shredded) before they are deleted.
func (t *Tx) SecureDelete(ctx context.Context) error {
	if t.dialect != SQLite {
		return nil
	}
	_, err := t.tx.ExecContext(ctx, "PRAGMA secure_delete = ON")
	return err
}

// Tx runs fn in a transaction, committing if it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(s.newTx(tx)); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) newTx(tx *sql.Tx) *Tx {
	return &Tx{querier: querier{tx, s.dialect}, tx: tx, dialect: s.dialect}
}

// DurableTx is Tx whose commit is on disk when it returns, not only in the
// write-ahead log's page cache: SQLite runs it with synchronous=FULL (the
// store's default is NORMAL); PostgreSQL's commits already are
// (synchronous_commit=on, its default).
func (s *Store) DurableTx(ctx context.Context, fn func(*Tx) error) error {
	if s.dialect != SQLite {
		return s.Tx(ctx, fn)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		return err
	}
	// Restore the store's default for whoever uses the connection next.
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous=NORMAL")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(s.newTx(tx)); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Checkpoint moves SQLite's write-ahead log into the database file and
// truncates it, so deleted (secure-deleted) content no longer lingers in
// the log; busy reports that a reader kept part of it. On PostgreSQL it
// does nothing: the server owns its WAL.
func (s *Store) Checkpoint(ctx context.Context) (busy bool, err error) {
	if s.dialect != SQLite {
		return false, nil
	}
	var b, frames, done int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &frames, &done); err != nil {
		return false, err
	}
	return b != 0, nil
}

// args passes Go bools as the 0/1 integers both dialects store flags as
// (SQLite's driver does this itself; pgx refuses a bool for a BIGINT).
func (d Dialect) args(args []any) []any {
	if d != Postgres {
		return args
	}
	copied := false
	for i, a := range args {
		b, ok := a.(bool)
		if !ok {
			continue
		}
		if !copied { // never write to the caller's slice
			args, copied = append([]any(nil), args...), true
		}
		args[i] = 0
		if b {
			args[i] = 1
		}
	}
	return args
}

// rebind turns ? placeholders into PostgreSQL's $n, leaving quoted text,
// quoted identifiers and comments alone.
func (d Dialect) rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Prepare prepares a statement run many times (the per-request key lookup).
// It closes with the store.
func (s *Store) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	return s.db.PrepareContext(ctx, s.dialect.rebind(query))
}
