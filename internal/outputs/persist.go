package outputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// migrations are the outputs table (component "outputs"): each output's
// spec, which names credentials files and never holds their contents.
var migrations = store.Portable(`
CREATE TABLE outputs (
	output_id  TEXT PRIMARY KEY,
	session_id TEXT NOT NULL,
	spec       TEXT NOT NULL,      -- Spec as JSON: credentials by file name only
	created_at INTEGER NOT NULL
);`, `CREATE INDEX outputs_session ON outputs (session_id);`)

// Migrate brings the outputs table in st to this binary's schema (Restore
// does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, "outputs", migrations)
}

// Restore migrates the outputs table and starts every output it holds,
// with its id, so a restart (a power cut, an upgrade) keeps a venue's
// outputs. An output whose spec the server now refuses (its host left
// allow_hosts) stays stored and is logged; one whose session is gone
// removes itself. Without a Store it does nothing.
func (m *Manager) Restore(ctx context.Context) error {
	st := m.opts.Store
	if st == nil {
		return nil
	}
	if err := Migrate(ctx, st); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	type row struct {
		id, session string
		spec        Spec
	}
	var rows []row
	rs, err := st.QueryContext(ctx, "SELECT output_id, session_id, spec FROM outputs ORDER BY created_at, output_id")
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	for rs.Next() {
		var r row
		var raw string
		if err := rs.Scan(&r.id, &r.session, &raw); err != nil {
			rs.Close()
			return fmt.Errorf("outputs: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &r.spec); err != nil {
			m.log.Warn("stored caption output unreadable; left stored", "output_id", r.id, "error", err)
			continue
		}
		rows = append(rows, r)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	for _, r := range rows {
		snd, err := m.sender(r.spec)
		if err != nil {
			m.log.Warn("stored caption output refused; left stored", "session_id", r.session, "output_id", r.id, "error", err)
			continue
		}
		if _, err := m.start(r.id, r.session, r.spec, snd); err != nil {
			return err
		}
	}
	m.log.Info("caption outputs restored", "count", len(rows))
	return nil
}

// save stores a new output.
func (m *Manager) save(ctx context.Context, o *output) error {
	if m.opts.Store == nil {
		return nil
	}
	raw, err := json.Marshal(o.spec)
	if err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	if _, err := m.opts.Store.ExecContext(ctx, "INSERT INTO outputs (output_id, session_id, spec, created_at) VALUES (?, ?, ?, ?)",
		o.id, o.session, string(raw), o.created.UnixMilli()); err != nil {
		return fmt.Errorf("outputs: store: %w", err)
	}
	return nil
}

// unsave deletes stored outputs: one (outputID) or all of a session's.
func (m *Manager) unsave(ctx context.Context, sessionID, outputID string) error {
	if m.opts.Store == nil {
		return nil
	}
	var err error
	if outputID == "" {
		_, err = m.opts.Store.ExecContext(ctx, "DELETE FROM outputs WHERE session_id = ?", sessionID)
	} else {
		_, err = m.opts.Store.ExecContext(ctx, "DELETE FROM outputs WHERE session_id = ? AND output_id = ?", sessionID, outputID)
	}
	if err != nil {
		return fmt.Errorf("outputs: store: %w", err)
	}
	return nil
}

// unsaveLater deletes an ended output's row from its own goroutine, within
// a bound of its own (the manager may be closing).
func (m *Manager) unsaveLater(o *output) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.unsave(ctx, o.session, o.id); err != nil {
		m.log.Warn("ended caption output not removed from the store", "session_id", o.session, "output_id", o.id, "error", err)
	}
}
