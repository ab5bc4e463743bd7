package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the schedule tables (component "schedule").
var migrations = store.Portable(
	`CREATE TABLE schedule_rules (id TEXT PRIMARY KEY, body TEXT NOT NULL)`,
	`CREATE TABLE schedule_runs (rule_id TEXT NOT NULL, start_ms INTEGER NOT NULL, stop_ms INTEGER NOT NULL,
		session_id TEXT NOT NULL, ended INTEGER NOT NULL, missed INTEGER NOT NULL, PRIMARY KEY (rule_id, start_ms))`,
)

// SQLStore is the rule and run store over the server's database (SQLite
// or PostgreSQL, through the store seam).
type SQLStore struct{ db *store.Store }

var (
	_ RuleStore = (*SQLStore)(nil)
	_ RunStore  = (*SQLStore)(nil)
)

// Migrate brings the schedule tables in st to this binary's schema (Open
// does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, "schedule", migrations)
}

// Open migrates the schedule tables and returns the store.
func Open(ctx context.Context, st *store.Store) (*SQLStore, error) {
	if err := Migrate(ctx, st); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	return &SQLStore{db: st}, nil
}

// Rules implements RuleStore.
func (s *SQLStore) Rules(ctx context.Context) ([]Rule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM schedule_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("schedule: rules: %w", err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("schedule: rules: %w", err)
		}
		var r Rule
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, fmt.Errorf("schedule: rule: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutRule implements RuleStore.
func (s *SQLStore) PutRule(ctx context.Context, r Rule) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schedule_rules(id, body) VALUES(?,?)
		ON CONFLICT(id) DO UPDATE SET body = excluded.body`, r.ID, string(body)); err != nil {
		return fmt.Errorf("schedule: put rule: %w", err)
	}
	return nil
}

// DeleteRule implements RuleStore.
func (s *SQLStore) DeleteRule(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schedule_rules WHERE id = ?`, id); err != nil {
		return fmt.Errorf("schedule: delete rule: %w", err)
	}
	return nil
}

// Runs implements RunStore.
func (s *SQLStore) Runs(ctx context.Context, since time.Time) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule_id, start_ms, stop_ms, session_id, ended, missed FROM schedule_runs
		WHERE ended = 0 OR stop_ms > ? ORDER BY start_ms`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("schedule: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var start, stop int64
		if err := rows.Scan(&r.RuleID, &start, &stop, &r.SessionID, &r.Ended, &r.Missed); err != nil {
			return nil, fmt.Errorf("schedule: runs: %w", err)
		}
		r.Start, r.Stop = time.UnixMilli(start).UTC(), time.UnixMilli(stop).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutRun implements RunStore.
func (s *SQLStore) PutRun(ctx context.Context, r Run) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schedule_runs(rule_id, start_ms, stop_ms, session_id, ended, missed)
		VALUES(?,?,?,?,?,?) ON CONFLICT(rule_id, start_ms) DO UPDATE SET stop_ms = excluded.stop_ms,
		session_id = excluded.session_id, ended = excluded.ended, missed = excluded.missed`,
		r.RuleID, r.Start.UnixMilli(), r.Stop.UnixMilli(), r.SessionID, r.Ended, r.Missed); err != nil {
		return fmt.Errorf("schedule: put run: %w", err)
	}
	return nil
}
