package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotEmpty is Copy's refusal of a target that already holds rows.
var ErrNotEmpty = errors.New("store: the target database is not empty")

// Copy copies every row of every table of src, a SQLite store, into dst, a
// PostgreSQL store whose components were migrated to the same versions
// (run each component's Migrate on both first). Tables go parent before
// child (foreign keys), bytes stay bytes, and the whole copy is one
// transaction on dst: it lands entirely or not at all. A dst that holds a
// row in any of those tables is refused with ErrNotEmpty, so running Copy
// twice copies once. It returns the rows copied per table.
func Copy(ctx context.Context, src, dst *Store) (map[string]int64, error) {
	if src.dialect != SQLite || dst.dialect != Postgres {
		return nil, fmt.Errorf("store: copy goes from SQLite to PostgreSQL, not %s to %s", src.dialect, dst.dialect)
	}
	sv, err := src.versions(ctx)
	if err != nil {
		return nil, err
	}
	dv, err := dst.versions(ctx)
	if err != nil {
		return nil, err
	}
	for c, v := range sv {
		if dv[c] != v {
			return nil, fmt.Errorf("store: %s is at schema %d in the source and %d in the target; migrate both first", c, v, dv[c])
		}
	}
	tables, err := src.sqliteTables(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var n int64
		if err := dst.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: target table %s: %w", t, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("%w: %s holds %d rows", ErrNotEmpty, t, n)
		}
	}
	copied := map[string]int64{}
	err = dst.Tx(ctx, func(tx *Tx) error {
		for _, t := range tables {
			n, err := copyTable(ctx, src, tx, t)
			if err != nil {
				return fmt.Errorf("store: copying %s: %w", t, err)
			}
			copied[t] = n
		}
		return nil
	})
	return copied, err
}

// versions is every component's schema version.
func (s *Store) versions(ctx context.Context) (map[string]int, error) {
	rows, err := s.QueryContext(ctx, "SELECT component, MAX(version) FROM schema_migrations GROUP BY component")
	if err != nil {
		return nil, fmt.Errorf("store: schema versions: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = v
	}
	return out, rows.Err()
}

// sqliteTables lists the data tables (not schema_migrations, which each
// side keeps for itself), every table after the tables it references.
func (s *Store) sqliteTables(ctx context.Context) ([]string, error) {
	names, err := s.Strings(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: listing tables: %w", err)
	}
	parents := map[string][]string{}
	for _, t := range names {
		ps, err := s.Strings(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		if err != nil {
			return nil, fmt.Errorf("store: foreign keys of %s: %w", t, err)
		}
		parents[t] = ps
	}
	var order []string
	var visit func(t string, depth int) error
	visit = func(t string, depth int) error {
		if slices.Contains(order, t) {
			return nil
		}
		if depth > len(names) {
			return fmt.Errorf("store: foreign keys of %s form a cycle", t)
		}
		for _, p := range parents[t] {
			if p != t {
				if err := visit(p, depth+1); err != nil {
					return err
				}
			}
		}
		order = append(order, t)
		return nil
	}
	for _, t := range names {
		if err := visit(t, 0); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// copyTable streams table's rows from src into tx, column by column name;
// text SQLite kept in a column PostgreSQL types bytea is sent as bytes.
func copyTable(ctx context.Context, src *Store, tx *Tx, table string) (int64, error) {
	bytea := map[string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ? AND data_type = 'bytea'`, table)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return 0, err
		}
		bytea[c] = true
	}
	rows.Close()

	rows, err = src.QueryContext(ctx, "SELECT * FROM "+quoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	insert := "INSERT INTO " + quoteIdent(table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range cols {
			if s, ok := vals[i].(string); ok && bytea[c] {
				vals[i] = []byte(s)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// quoteIdent quotes a table or column name for either dialect.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
