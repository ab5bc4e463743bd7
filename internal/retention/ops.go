package retention

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Keep stores one final caption of an opted-in session, sealed under the
// session's transcript key, and pushes the transcript's expiry to
// TranscriptRetention after it. Partials and other events are ignored.
func (k *Keeper) Keep(ctx context.Context, e live.Event) error {
	if e.Type != live.TypeCaption || !e.Final || e.SessionID == "" {
		return nil
	}
	key, err := k.vault.Key(ctx, vault.ClassTranscript, transcriptOwner(e.SessionID))
	if err != nil {
		return err
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	sealed, err := k.vault.SealUnder(ctx, key, vault.ClassTranscript, lineID(e.SessionID, e.Seq), line)
	clear(line)
	if err != nil {
		return err
	}
	now := k.now()
	return k.st.Tx(ctx, func(tx *store.Tx) error {
		var destroyed sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT destroyed_at FROM retention_transcripts WHERE session_id = ?", e.SessionID).Scan(&destroyed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO retention_transcripts (session_id, created_at, last_at, expires_at)
				VALUES (?, ?, ?, ?)`, e.SessionID, now.UnixNano(), now.UnixNano(), now.Add(k.keepT).UnixNano()); err != nil {
				return err
			}
		case err != nil:
			return err
		case destroyed.Valid:
			return ErrExpired // destroyed transcripts are not reopened by late captions
		}
		// A caption is numbered once (seq); a replay of the same one is
		// ignored, so the count stays exact without recounting the rows.
		res, err := tx.ExecContext(ctx, "INSERT INTO retention_lines (session_id, seq, sealed) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			e.SessionID, e.Seq, sealed)
		if err != nil {
			return err
		}
		added, err := res.RowsAffected()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE retention_transcripts SET last_at = ?, expires_at = ?, lines = lines + ?
			WHERE session_id = ?`, now.UnixNano(), now.Add(k.keepT).UnixNano(), added, e.SessionID)
		return err
	})
}

func lineID(sessionID string, seq uint64) string { return fmt.Sprintf("%s/%d", sessionID, seq) }

// Transcript returns a kept session's final captions in order, and audits
// the read (access to stored personal data).
func (k *Keeper) Transcript(ctx context.Context, sessionID string) ([]live.Event, error) {
	var destroyed sql.NullInt64
	err := k.db.QueryRowContext(ctx, "SELECT destroyed_at FROM retention_transcripts WHERE session_id = ?", sessionID).Scan(&destroyed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if destroyed.Valid {
		return nil, ErrExpired
	}
	lines, err := k.lines(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	out := make([]live.Event, len(lines))
	for i, l := range lines {
		out[i] = l.e
	}
	if err := k.record(ctx, "retention.read", "session:"+sessionID, map[string]string{"class": "transcript"}); err != nil {
		return nil, fmt.Errorf("retention: read not audited, not released: %w", err)
	}
	return out, nil
}

// Snippet is a short stretch of audio the recognizer was unsure of, kept
// for a person to review.
type Snippet struct {
	ID         string        `json:"id"`
	SessionID  string        `json:"session_id"`
	Start, End time.Duration `json:"-"`
	Confidence float32       `json:"confidence"`
	CreatedAt  time.Time     `json:"created_at"`
	ExpiresAt  time.Time     `json:"expires_at"`
	// Text, Rate and PCM16 are filled by SnippetContent only.
	Text  string `json:"text,omitempty"`
	Rate  int    `json:"rate,omitempty"`
	PCM16 []byte `json:"-"`
}

type snippetBody struct {
	Text  string `json:"text"`
	Rate  int    `json:"rate"`
	PCM16 []byte `json:"pcm16"`
}

// AddSnippet seals s (text, rate and PCM16 audio) under a key of its own
// and keeps it for SnippetRetention.
func (k *Keeper) AddSnippet(ctx context.Context, s Snippet) (Snippet, error) {
	if s.SessionID == "" || len(s.PCM16) == 0 || s.Rate < 8000 || s.Rate > 48000 || len(s.PCM16) > 30*2*s.Rate {
		return Snippet{}, errors.New("retention: a snippet needs a session, 8–48 kHz PCM16 audio of at most 30 s")
	}
	s.ID = newID("snp_")
	key, err := k.vault.Key(ctx, vault.ClassSnippet, snippetOwner(s.ID))
	if err != nil {
		return Snippet{}, err
	}
	body, _ := json.Marshal(snippetBody{Text: s.Text, Rate: s.Rate, PCM16: s.PCM16})
	sealed, err := k.vault.SealUnder(ctx, key, vault.ClassSnippet, s.ID, body)
	clear(body)
	if err != nil {
		return Snippet{}, err
	}
	now := k.now()
	s.CreatedAt, s.ExpiresAt = now.UTC(), now.Add(k.keepS).UTC()
	if _, err := k.db.ExecContext(ctx, `INSERT INTO retention_snippets (id, session_id, created_at, expires_at, start_ms, end_ms, confidence, sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, s.ID, s.SessionID, now.UnixNano(), now.Add(k.keepS).UnixNano(),
		s.Start.Milliseconds(), s.End.Milliseconds(), s.Confidence, sealed); err != nil {
		return Snippet{}, fmt.Errorf("retention: %w", err)
	}
	s.Text, s.PCM16 = "", nil
	return s, nil
}

// Snippets lists a session's live snippets (no content).
func (k *Keeper) Snippets(ctx context.Context, sessionID string) ([]Snippet, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT id, created_at, expires_at, start_ms, end_ms, confidence FROM retention_snippets
		WHERE session_id = ? AND destroyed_at IS NULL ORDER BY start_ms`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer rows.Close()
	var out []Snippet
	for rows.Next() {
		s := Snippet{SessionID: sessionID}
		var c, e, st, en int64
		if err := rows.Scan(&s.ID, &c, &e, &st, &en, &s.Confidence); err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		s.CreatedAt, s.ExpiresAt = time.Unix(0, c).UTC(), time.Unix(0, e).UTC()
		s.Start, s.End = time.Duration(st)*time.Millisecond, time.Duration(en)*time.Millisecond
		out = append(out, s)
	}
	return out, rows.Err()
}

// SnippetContent decrypts one snippet for review, and audits the access.
func (k *Keeper) SnippetContent(ctx context.Context, id string) (Snippet, error) {
	var sealed []byte
	var session string
	err := k.db.QueryRowContext(ctx, "SELECT session_id, sealed FROM retention_snippets WHERE id = ?", id).Scan(&session, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return Snippet{}, ErrNotFound
	}
	if err != nil {
		return Snippet{}, fmt.Errorf("retention: %w", err)
	}
	if sealed == nil {
		return Snippet{}, ErrExpired
	}
	raw, err := k.vault.Open(ctx, vault.ClassSnippet, id, sealed)
	if err != nil {
		return Snippet{}, err
	}
	var b snippetBody
	err = json.Unmarshal(raw, &b)
	clear(raw)
	if err != nil {
		return Snippet{}, fmt.Errorf("retention: snippet %s: %w", id, err)
	}
	if err := k.record(ctx, "retention.read", "snippet:"+id, map[string]string{"class": "snippet", "session_id": session}); err != nil {
		return Snippet{}, fmt.Errorf("retention: read not audited, not released: %w", err)
	}
	return Snippet{ID: id, SessionID: session, Text: b.Text, Rate: b.Rate, PCM16: b.PCM16}, nil
}

func newID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
