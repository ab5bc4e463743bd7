package live

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the live component's tables (append-only). A session row
// holds settings, state and times: never words or audio.
var migrations = store.Portable(
	`CREATE TABLE live_sessions (
		id TEXT PRIMARY KEY,
		owner TEXT NOT NULL,
		label TEXT NOT NULL,
		state TEXT NOT NULL,
		viewer_mode TEXT NOT NULL,
		viewer_secret TEXT NOT NULL DEFAULT '',
		language TEXT NOT NULL DEFAULT '',
		hotwords TEXT NOT NULL DEFAULT '[]',
		auto_stop_ms INTEGER NOT NULL DEFAULT 0,
		pre_roll_ms INTEGER NOT NULL DEFAULT 0,
		created_at INTEGER NOT NULL,
		started_at INTEGER,
		stopped_at INTEGER,
		stop_reason TEXT NOT NULL DEFAULT '',
		last_seq INTEGER NOT NULL DEFAULT 0,
		audio_ms INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE INDEX live_sessions_owner ON live_sessions(owner)`,
	// seq_exact is 0 while a pipeline runs (last_seq is then saved each
	// tick and may trail what viewers saw) and 1 once it stopped cleanly.
	`ALTER TABLE live_sessions ADD COLUMN seq_exact INTEGER NOT NULL DEFAULT 1`,
	// Privacy choices per session (issue 6): keep the final captions
	// (sealed elsewhere, by package retention) and name speakers.
	`ALTER TABLE live_sessions ADD COLUMN keep_transcript INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE live_sessions ADD COLUMN identify_speakers INTEGER NOT NULL DEFAULT 0`,
)

// record is one row of live_sessions.
type record struct {
	Info
	Secret  string
	AudioMS int64
	// SeqExact: LastSeq is the last event published (saved at a clean
	// stop), not a value that may trail it (saved while running).
	SeqExact bool
}

// Component names the live tables' migrations in the store.
const Component = "live"

// Migrate brings the live tables in st to this binary's schema (izwi
// migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error { return migrate(ctx, st) }

func migrate(ctx context.Context, st *store.Store) error {
	if err := st.Migrate(ctx, Component, migrations); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	return nil
}

func ms(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

// records owns the sessions' rows in the store (live_sessions): load,
// save, list and delete, nothing else. It holds no lock: callers
// serialise the writes of one session (session.fx) and never call it
// holding session.mu.
type records struct{ db *store.Store }

func (rs records) insert(ctx context.Context, r record) error {
	db := rs.db
	hw, _ := json.Marshal(r.Hotwords)
	_, err := db.ExecContext(ctx, `INSERT INTO live_sessions(id, owner, label, state, viewer_mode, viewer_secret,
		language, hotwords, auto_stop_ms, pre_roll_ms, created_at, started_at, stopped_at, stop_reason, last_seq, audio_ms,
		keep_transcript, identify_speakers)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.ID, r.Owner, r.Label, string(r.State), string(r.ViewerMode), r.Secret, r.Language, string(hw),
		r.AutoStopAfter.Milliseconds(), r.PreRoll.Milliseconds(), r.CreatedAt.UnixMilli(), ms(r.StartedAt), ms(r.StoppedAt),
		r.StopReason, int64(r.LastSeq), r.AudioMS, r.KeepTranscript, r.IdentifySpeakers)
	if err != nil {
		return fmt.Errorf("live: saving session: %w", err)
	}
	return nil
}

func (rs records) update(ctx context.Context, r record) error {
	db := rs.db
	hw, _ := json.Marshal(r.Hotwords)
	_, err := db.ExecContext(ctx, `UPDATE live_sessions SET label=?, state=?, viewer_mode=?, viewer_secret=?,
		hotwords=?, auto_stop_ms=?, started_at=?, stopped_at=?, stop_reason=?, last_seq=?, audio_ms=?, seq_exact=?,
		keep_transcript=?, identify_speakers=? WHERE id=?`,
		r.Label, string(r.State), string(r.ViewerMode), r.Secret, string(hw), r.AutoStopAfter.Milliseconds(),
		ms(r.StartedAt), ms(r.StoppedAt), r.StopReason, int64(r.LastSeq), r.AudioMS, r.SeqExact,
		r.KeepTranscript, r.IdentifySpeakers, r.ID)
	if err != nil {
		return fmt.Errorf("live: saving session: %w", err)
	}
	return nil
}

func (rs records) remove(ctx context.Context, id string) error {
	db := rs.db
	if _, err := db.ExecContext(ctx, `DELETE FROM live_sessions WHERE id=?`, id); err != nil {
		return fmt.Errorf("live: deleting session: %w", err)
	}
	return nil
}

func (rs records) all(ctx context.Context) ([]record, error) {
	return rs.query(ctx, "", nil)
}

// loadRecord reads session id's row (ErrNotFound when there is none).
func (rs records) one(ctx context.Context, id string) (record, error) {
	got, err := rs.query(ctx, " WHERE id=?", []any{id})
	if err != nil {
		return record{}, err
	}
	if len(got) == 0 {
		return record{}, ErrNotFound
	}
	return got[0], nil
}

func (rs records) query(ctx context.Context, where string, args []any) ([]record, error) {
	rows, err := rs.db.QueryContext(ctx, `SELECT id, owner, label, state, viewer_mode, viewer_secret, language, hotwords,
		auto_stop_ms, pre_roll_ms, created_at, started_at, stopped_at, stop_reason, last_seq, audio_ms, seq_exact,
		keep_transcript, identify_speakers
		FROM live_sessions`+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("live: loading sessions: %w", err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		var state, mode, hw string
		var autoStop, preRoll, created int64
		var started, stopped sql.NullInt64
		var seq int64
		if err := rows.Scan(&r.ID, &r.Owner, &r.Label, &state, &mode, &r.Secret, &r.Language, &hw,
			&autoStop, &preRoll, &created, &started, &stopped, &r.StopReason, &seq, &r.AudioMS, &r.SeqExact,
			&r.KeepTranscript, &r.IdentifySpeakers); err != nil {
			return nil, fmt.Errorf("live: loading sessions: %w", err)
		}
		r.State, r.ViewerMode, r.LastSeq = State(state), ViewerMode(mode), uint64(max(seq, 0))
		if err := json.Unmarshal([]byte(hw), &r.Hotwords); err != nil {
			return nil, errors.New("live: loading sessions: corrupt hotwords")
		}
		r.AutoStopAfter, r.PreRoll = time.Duration(autoStop)*time.Millisecond, time.Duration(preRoll)*time.Millisecond
		r.CreatedAt = time.UnixMilli(created).UTC()
		if started.Valid {
			t := time.UnixMilli(started.Int64).UTC()
			r.StartedAt = &t
		}
		if stopped.Valid {
			t := time.UnixMilli(stopped.Int64).UTC()
			r.StoppedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
