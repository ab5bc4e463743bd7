package outputs

import (
	"context"
	"database/sql"
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
);`, `CREATE INDEX outputs_session ON outputs (session_id);`,
	// Progress, kept in a cluster so the next holder of a session resumes
	// where the last one stopped: the live seq of the last caption sent
	// (or given up on), and the sender's own count (YouTube's seq).
	`ALTER TABLE outputs ADD COLUMN sent_seq INTEGER NOT NULL DEFAULT 0;`,
	`ALTER TABLE outputs ADD COLUMN sender_seq INTEGER NOT NULL DEFAULT 0;`)

// Migrate brings the outputs table in st to this binary's schema (Restore
// does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, "outputs", migrations)
}

// Restore migrates the outputs table and starts every output it holds,
// with its id, so a restart (a power cut, an upgrade) keeps a venue's
// outputs. An output whose spec the server now refuses (its host left
// allow_hosts) stays stored and is logged; one whose session is gone
// removes itself. Without a Store it does nothing. In a cluster
// (Options.Holds) it starts instead the loop that runs the stored outputs
// of the sessions this process holds (cluster.go).
func (m *Manager) Restore(ctx context.Context) error {
	st := m.opts.Store
	if st == nil {
		return nil
	}
	if err := Migrate(ctx, st); err != nil {
		return fmt.Errorf("outputs: %w", err)
	}
	if m.opts.Holds != nil { // a cluster: each output runs at its session's holder (sync)
		m.syncOnce.Do(func() { go m.syncLoop() })
		return nil
	}
	rows, err := m.stored(ctx, "")
	if err != nil {
		return err
	}
	for _, r := range rows {
		snd, err := m.sender(r.spec)
		if err != nil {
			m.log.Warn("stored caption output refused; left stored", "session_id", r.session, "output_id", r.id, "error", err)
			continue
		}
		if _, err := m.start(&output{id: r.id, session: r.session, spec: r.spec, sender: snd, created: m.opts.Now()}); err != nil {
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
	_, err := m.unsaveCount(ctx, sessionID, outputID)
	return err
}

// unsaveCount is unsave, saying how many rows it deleted.
func (m *Manager) unsaveCount(ctx context.Context, sessionID, outputID string) (int64, error) {
	if m.opts.Store == nil {
		return 0, nil
	}
	var res sql.Result
	var err error
	if outputID == "" {
		res, err = m.opts.Store.ExecContext(ctx, "DELETE FROM outputs WHERE session_id = ?", sessionID)
	} else {
		res, err = m.opts.Store.ExecContext(ctx, "DELETE FROM outputs WHERE session_id = ? AND output_id = ?", sessionID, outputID)
	}
	if err != nil {
		return 0, fmt.Errorf("outputs: store: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
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

// row is a stored output.
type row struct {
	id, session        string
	spec               Spec
	created            time.Time
	sentSeq, senderSeq uint64
}

// stored reads the stored outputs, all or (session not "") one session's,
// oldest first; an unreadable spec is logged and left out.
func (m *Manager) stored(ctx context.Context, session string) ([]row, error) {
	q, args := "SELECT output_id, session_id, spec, created_at, sent_seq, sender_seq FROM outputs", []any{}
	if session != "" {
		q, args = q+" WHERE session_id = ?", append(args, session)
	}
	rs, err := m.opts.Store.QueryContext(ctx, q+" ORDER BY created_at, output_id", args...)
	if err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	var rows []row
	for rs.Next() {
		var r row
		var raw string
		var created, sent, count int64
		if err := rs.Scan(&r.id, &r.session, &raw, &created, &sent, &count); err != nil {
			rs.Close()
			return nil, fmt.Errorf("outputs: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &r.spec); err != nil {
			m.log.Warn("stored caption output unreadable; left stored", "output_id", r.id, "error", err)
			continue
		}
		r.created, r.sentSeq, r.senderSeq = time.UnixMilli(created), uint64(sent), uint64(count)
		rows = append(rows, r)
	}
	if err := errors.Join(rs.Err(), rs.Close()); err != nil {
		return nil, fmt.Errorf("outputs: %w", err)
	}
	return rows, nil
}

// saveProgress records, in a cluster, that o is done with the caption of
// live seq (sent or given up on), so the session's next holder resumes
// after it.
func (m *Manager) saveProgress(o *output, seq uint64) {
	if m.opts.Holds == nil || m.opts.Store == nil {
		return
	}
	var count uint64
	if r, ok := o.sender.(resumable); ok {
		count = r.Count()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.opts.Store.ExecContext(ctx, "UPDATE outputs SET sent_seq = ?, sender_seq = ? WHERE output_id = ?",
		int64(seq), int64(count), o.id); err != nil {
		m.log.Warn("caption output progress not saved", "session_id", o.session, "output_id", o.id, "error", err)
	}
}
