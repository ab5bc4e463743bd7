package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// The archive (the console's Archive and Review pages): what is kept, a
// caption corrected by a person, snippets reviewed and let go.

// MaxCorrection bounds a corrected caption's text.
const MaxCorrection = 4 << 10

// Errors of the archive.
var (
	// ErrNoCaption: the caption to correct is not (or no longer) kept.
	ErrNoCaption = errors.New("retention: no such kept caption")
	// ErrBadCorrection: a correction's text is empty, too long or not UTF-8.
	ErrBadCorrection = fmt.Errorf("retention: a correction is 1 to %d bytes of text", MaxCorrection)
)

// Kept describes one kept transcript, without its words.
type Kept struct {
	SessionID string    `json:"session_id"`
	CreatedAt time.Time `json:"created_at"`
	LastAt    time.Time `json:"last_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Lines     int       `json:"lines"`
}

// List returns every kept transcript that still exists, newest first.
// It reads no words, so it is not audited as a read.
func (k *Keeper) List(ctx context.Context) ([]Kept, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT session_id, created_at, last_at, expires_at, lines FROM retention_transcripts
		WHERE destroyed_at IS NULL ORDER BY last_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer rows.Close()
	var out []Kept
	for rows.Next() {
		var t Kept
		var c, l, e int64
		if err := rows.Scan(&t.SessionID, &c, &l, &e, &t.Lines); err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		t.CreatedAt, t.LastAt, t.ExpiresAt = time.Unix(0, c).UTC(), time.Unix(0, l).UTC(), time.Unix(0, e).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// Correct replaces the text of kept caption seq of a session with what a
// person heard. The corrected caption is sealed under the session's key
// like the original (which is overwritten); its word timings go, since
// they no longer match. Audited before it is stored (never the text).
func (k *Keeper) Correct(ctx context.Context, sessionID string, seq uint64, text string) error {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" || len(text) > MaxCorrection || !utf8.ValidString(text) {
		return ErrBadCorrection
	}
	var sealed []byte
	err := k.db.QueryRowContext(ctx, `SELECT l.sealed FROM retention_lines l JOIN retention_transcripts t USING (session_id)
		WHERE l.session_id = ? AND l.seq = ? AND t.destroyed_at IS NULL`, sessionID, seq).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoCaption
	}
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	id := lineID(sessionID, seq)
	plain, err := k.vault.Open(ctx, vault.ClassTranscript, id, sealed)
	if err != nil {
		return err
	}
	var e map[string]any // every field kept as it was, whatever the event carries
	err = json.Unmarshal(plain, &e)
	clear(plain)
	if err != nil {
		return fmt.Errorf("retention: caption %d: %w", seq, err)
	}
	e["text"] = text
	delete(e, "words")
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	key, err := k.vault.Key(ctx, vault.ClassTranscript, transcriptOwner(sessionID))
	if err != nil {
		return err
	}
	resealed, err := k.vault.SealUnder(ctx, key, vault.ClassTranscript, id, line)
	clear(line)
	if err != nil {
		return err
	}
	if err := k.record(ctx, "retention.correct", "session:"+sessionID, map[string]string{"seq": fmt.Sprint(seq)}); err != nil {
		return fmt.Errorf("retention: correction not audited, not stored: %w", err)
	}
	return k.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SecureDelete(ctx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE retention_lines SET sealed = ? WHERE session_id = ? AND seq = ?", resealed, sessionID, seq)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoCaption // destroyed meanwhile
		}
		return nil
	})
}

// Review lists every snippet still waiting for review, oldest first (no
// content).
func (k *Keeper) Review(ctx context.Context) ([]Snippet, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT id, session_id, created_at, expires_at, start_ms, end_ms, confidence FROM retention_snippets
		WHERE destroyed_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer rows.Close()
	var out []Snippet
	for rows.Next() {
		var s Snippet
		var c, e, st, en int64
		if err := rows.Scan(&s.ID, &s.SessionID, &c, &e, &st, &en, &s.Confidence); err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		s.CreatedAt, s.ExpiresAt = time.Unix(0, c).UTC(), time.Unix(0, e).UTC()
		s.Start, s.End = time.Duration(st)*time.Millisecond, time.Duration(en)*time.Millisecond
		out = append(out, s)
	}
	return out, rows.Err()
}

// Resolve ends a snippet's review: its audio is shredded, and with a
// correction the kept caption it was taken from (the one starting where
// the snippet starts) gets the corrected text first. outcome is
// "approved", "corrected" or "deleted"; it is audited.
func (k *Keeper) Resolve(ctx context.Context, id, outcome, correction string) error {
	var session string
	var startMS int64
	var sealed []byte
	err := k.db.QueryRowContext(ctx, "SELECT session_id, start_ms, sealed FROM retention_snippets WHERE id = ?", id).Scan(&session, &startMS, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	if sealed == nil {
		return ErrExpired
	}
	if outcome == "corrected" {
		seq, err := k.captionAt(ctx, session, float64(startMS)/1000)
		if err != nil {
			return err
		}
		if err := k.Correct(ctx, session, seq, correction); err != nil {
			return err
		}
	}
	if err := k.record(ctx, "retention.review", "snippet:"+id, map[string]string{"outcome": outcome, "session_id": session}); err != nil {
		return fmt.Errorf("retention: review not audited: %w", err)
	}
	return k.destroySnippet(ctx, id, "reviewed_"+outcome)
}

// captionAt finds the kept caption of a session starting nearest at
// (within half a second): the caption a snippet was cut from.
func (k *Keeper) captionAt(ctx context.Context, sessionID string, at float64) (uint64, error) {
	lines, err := k.lines(ctx, sessionID)
	if err != nil {
		return 0, err
	}
	best, dist := uint64(0), math.Inf(1)
	for _, l := range lines {
		if d := math.Abs(l.e.Start - at); d < dist {
			best, dist = l.seq, d
		}
	}
	if dist > 0.5 {
		return 0, ErrNoCaption
	}
	return best, nil
}
