package limit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the limit component's schema (append-only). Usage is one
// row per subject and UTC day; values are totals for that day.
func migrations() store.Migrations {
	return store.Migrations{
		SQLite: []string{`CREATE TABLE limit_usage (
			subject     TEXT    NOT NULL,
			day         TEXT    NOT NULL,
			requests    INTEGER NOT NULL DEFAULT 0,
			audio_ms    INTEGER NOT NULL DEFAULT 0,
			chat_tokens INTEGER NOT NULL DEFAULT 0,
			updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
			PRIMARY KEY (subject, day))`,
			// Shared rate buckets (sharedrate.go); only PostgreSQL uses them.
			rateBuckets},
		Postgres: []string{`CREATE TABLE limit_usage (
			subject     TEXT    NOT NULL,
			day         TEXT    NOT NULL,
			requests    BIGINT  NOT NULL DEFAULT 0,
			audio_ms    BIGINT  NOT NULL DEFAULT 0,
			chat_tokens BIGINT  NOT NULL DEFAULT 0,
			updated_at  TEXT    NOT NULL DEFAULT '',
			PRIMARY KEY (subject, day))`,
			store.Portable(rateBuckets).Postgres[0]},
	}
}

// usageRow is a delta to add to one subject's day.
type usageRow struct {
	subject, day string
	c            counters
}

func loadUsage(ctx context.Context, db *store.Store, subjectName, day string) (counters, error) {
	var c counters
	err := db.QueryRowContext(ctx,
		"SELECT requests, audio_ms, chat_tokens FROM limit_usage WHERE subject = ? AND day = ?", subjectName, day).
		Scan(&c.requests, &c.audioMs, &c.chatTokens)
	if errors.Is(err, sql.ErrNoRows) {
		return counters{}, nil
	}
	return c, err
}

// Flush writes unflushed usage to the database in one transaction. Rows are
// added as deltas, so several processes sharing a database keep correct
// totals. On failure nothing is lost: the deltas return to pending and the
// next flush retries them.
func (l *Limiter) Flush(ctx context.Context) error {
	if l.db == nil {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()

	// Collect: move each subject's pending to inflight.
	type taken struct {
		s   *subject
		row usageRow
	}
	var batch []taken
	l.mu.Lock()
	subjects := make([]*subject, 0, len(l.subjects))
	for _, s := range l.subjects {
		subjects = append(subjects, s)
	}
	l.mu.Unlock()
	for _, s := range subjects {
		s.mu.Lock()
		if !s.pending.zero() {
			s.inflight, s.inflightDay = s.pending, s.day
			batch = append(batch, taken{s, usageRow{s.name, s.day, s.pending}})
			s.pending = counters{}
		}
		s.mu.Unlock()
	}
	l.retiredMu.Lock()
	retired := l.retired
	l.retired = nil
	l.retiredMu.Unlock()
	if len(batch) == 0 && len(retired) == 0 {
		return nil
	}

	rows := make([]usageRow, 0, len(batch)+len(retired))
	for _, t := range batch {
		rows = append(rows, t.row)
	}
	rows = append(rows, retired...)
	err := l.opts.Store.Tx(ctx, func(tx *store.Tx) error {
		at := l.opts.Now().UTC().Format(usageTime)
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO limit_usage(subject, day, requests, audio_ms, chat_tokens, updated_at) VALUES(?, ?, ?, ?, ?, ?)
			ON CONFLICT(subject, day) DO UPDATE SET requests = limit_usage.requests + excluded.requests,
				audio_ms = limit_usage.audio_ms + excluded.audio_ms, chat_tokens = limit_usage.chat_tokens + excluded.chat_tokens,
				updated_at = excluded.updated_at`, r.subject, r.day, r.c.requests, r.c.audioMs, r.c.chatTokens, at); err != nil {
				return err
			}
		}
		return nil
	})

	// Settle: inflight becomes base (written) or pending again (not).
	for _, t := range batch {
		s := t.s
		s.mu.Lock()
		s.inflight = counters{}
		switch {
		case err == nil && s.day == t.row.day:
			s.base = s.base.plus(t.row.c)
		case err != nil && s.day == t.row.day:
			s.pending = s.pending.plus(t.row.c)
		case err != nil:
			l.retire(t.row) // the day rolled over meanwhile
		}
		s.mu.Unlock()
	}
	if err != nil {
		l.retiredMu.Lock()
		l.retired = append(l.retired, retired...)
		l.retiredMu.Unlock()
		return fmt.Errorf("limit: flushing usage: %w", err)
	}
	l.opts.Logger.Debug("usage flushed", "rows", len(rows))
	return nil
}

// A shared daily counter: a column of limit_usage that take may add to.
const (
	colRequests   = "requests"
	colChatTokens = "chat_tokens"
	colAudio      = "audio_ms"
)

// take adds n to column col of subject's day in the database if the sum
// stays within limit, in one statement (an upsert whose update is
// conditional), so concurrent takers in any process never pass the limit.
// It returns false, adding nothing, when it would. col is one of the
// col* constants, never input.
func take(ctx context.Context, db *store.Store, col, subject, day string, n, limit int64, now time.Time) (bool, error) {
	if n > limit {
		return false, nil
	}
	var got int64
	err := db.QueryRowContext(ctx, `INSERT INTO limit_usage(subject, day, `+col+`, updated_at) VALUES(?, ?, ?, ?)
		ON CONFLICT(subject, day) DO UPDATE SET `+col+` = limit_usage.`+col+` + excluded.`+col+`, updated_at = excluded.updated_at
			WHERE limit_usage.`+col+` + excluded.`+col+` <= ?
		RETURNING `+col, subject, day, n, now.UTC().Format(usageTime), limit).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// usageTime is how updated_at is written.
const usageTime = "2006-01-02T15:04:05.000Z"

// Component names the limit tables' migrations in the store.
const Component = "limit"

// Migrate brings the limit tables in st to this binary's schema (the
// constructor does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, Component, migrations())
}
