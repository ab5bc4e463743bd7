package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// catchUpSeq is where the numbers of lines written by a catch-up start:
// far above any caption a session publishes, so the two never meet.
// Transcript orders lines by stream time, not by number.
const catchUpSeq = 1 << 40

// keptLine is one kept caption with its number.
type keptLine struct {
	seq uint64
	e   live.Event
}

// lines reads and opens a session's kept captions, in stream-time order.
func (k *Keeper) lines(ctx context.Context, sessionID string) ([]keptLine, error) {
	// Read every row before decrypting: the store has one connection and
	// the vault needs it to unwrap the key.
	rows, err := k.db.QueryContext(ctx, "SELECT seq, sealed FROM retention_lines WHERE session_id = ? ORDER BY seq", sessionID)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	type raw struct {
		seq    uint64
		sealed []byte
	}
	var rs []raw
	for rows.Next() {
		var r raw
		if err := rows.Scan(&r.seq, &r.sealed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("retention: %w", err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	out := make([]keptLine, 0, len(rs))
	for _, r := range rs {
		plain, err := k.vault.Open(ctx, vault.ClassTranscript, lineID(sessionID, r.seq), r.sealed)
		if err != nil {
			return nil, fmt.Errorf("retention: caption %d: %w", r.seq, err)
		}
		var e live.Event
		err = json.Unmarshal(plain, &e)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("retention: caption %d: %w", r.seq, err)
		}
		out = append(out, keptLine{seq: r.seq, e: e})
	}
	slices.SortStableFunc(out, func(a, b keptLine) int {
		switch {
		case a.e.Start < b.e.Start:
			return -1
		case a.e.Start > b.e.Start:
			return 1
		}
		return 0
	})
	return out, nil
}

// Replace puts the primary engine's re-transcription of [from, to] (stream
// seconds) in place of the kept captions a fallback engine made there
// (issue 11's catch-up): captions whose middle falls inside the span are
// destroyed, finals are kept in their place. Viewers are not told; they
// keep the captions they saw.
func (k *Keeper) Replace(ctx context.Context, sessionID string, from, to float64, finals []live.Event) error {
	if sessionID == "" || to < from {
		return nil
	}
	var destroyed sql.NullInt64
	err := k.db.QueryRowContext(ctx, "SELECT destroyed_at FROM retention_transcripts WHERE session_id = ?", sessionID).Scan(&destroyed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound // nothing kept: no key is made for it
	case err != nil:
		return fmt.Errorf("retention: %w", err)
	case destroyed.Valid:
		return ErrExpired
	}
	lines, err := k.lines(ctx, sessionID)
	if err != nil {
		return err
	}
	var drop []uint64
	next := uint64(catchUpSeq)
	for _, l := range lines {
		if mid := (l.e.Start + l.e.End) / 2; mid >= from && mid <= to {
			drop = append(drop, l.seq)
		}
		if l.seq >= next {
			next = l.seq + 1
		}
	}
	key, err := k.vault.Key(ctx, vault.ClassTranscript, transcriptOwner(sessionID))
	if err != nil {
		return err
	}
	type row struct {
		seq    uint64
		sealed []byte
	}
	var add []row
	for _, e := range finals {
		if e.Type != live.TypeCaption || !e.Final || e.Text == "" {
			continue
		}
		e.SessionID, e.Seq = sessionID, next
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		sealed, err := k.vault.SealUnder(ctx, key, vault.ClassTranscript, lineID(sessionID, next), line)
		clear(line)
		if err != nil {
			return err
		}
		add = append(add, row{next, sealed})
		next++
	}
	err = k.st.Tx(ctx, func(tx *store.Tx) error {
		var destroyed sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT destroyed_at FROM retention_transcripts WHERE session_id = ?", sessionID).Scan(&destroyed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case destroyed.Valid:
			return ErrExpired
		}
		for _, seq := range drop {
			if _, err := tx.ExecContext(ctx, "DELETE FROM retention_lines WHERE session_id = ? AND seq = ?", sessionID, seq); err != nil {
				return err
			}
		}
		for _, r := range add {
			if _, err := tx.ExecContext(ctx, "INSERT INTO retention_lines (session_id, seq, sealed) VALUES (?, ?, ?)", sessionID, r.seq, r.sealed); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE retention_transcripts SET lines = lines + ? WHERE session_id = ?", len(add)-len(drop), sessionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("retention: catch-up: %w", err)
	}
	return nil
}
