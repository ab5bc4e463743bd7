package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// DestroySession shreds a session's transcript key and every snippet of
// the session, deletes their rows' ciphertext and records why ("deleted",
// "erasure_request"). Destroying what is already gone is a no-op.
func (k *Keeper) DestroySession(ctx context.Context, sessionID, reason string) error {
	if _, err := k.vault.ShredOwner(ctx, vault.ClassTranscript, transcriptOwner(sessionID)); err != nil {
		return fmt.Errorf("retention: shredding transcript: %w", err)
	}
	ids, err := k.snippetIDs(ctx, "session_id = ? AND destroyed_at IS NULL", sessionID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := k.destroySnippet(ctx, id, reason); err != nil {
			return err
		}
	}
	now := k.now().UnixNano()
	err = k.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SecureDelete(ctx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM retention_lines WHERE session_id = ?", sessionID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE retention_transcripts SET destroyed_at = ?, destroy_reason = ?, lines = 0
			WHERE session_id = ? AND destroyed_at IS NULL`, now, reason, sessionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	return k.record(ctx, "retention.destroy", "session:"+sessionID, map[string]string{"reason": reason, "snippets": fmt.Sprint(len(ids))})
}

func (k *Keeper) destroySnippet(ctx context.Context, id, reason string) error {
	if _, err := k.vault.ShredOwner(ctx, vault.ClassSnippet, snippetOwner(id)); err != nil {
		return fmt.Errorf("retention: shredding snippet %s: %w", id, err)
	}
	return k.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SecureDelete(ctx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE retention_snippets SET sealed = NULL, destroyed_at = ?, destroy_reason = ?
			WHERE id = ? AND destroyed_at IS NULL`, k.now().UnixNano(), reason, id)
		return err
	})
}

func (k *Keeper) snippetIDs(ctx context.Context, where string, args ...any) ([]string, error) {
	ids, err := k.st.Strings(ctx, "SELECT id FROM retention_snippets WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	return ids, nil
}

// PurgeReport says what one purge destroyed.
type PurgeReport struct {
	Transcripts, Snippets int
}

// Purge destroys every transcript and snippet past its expiry.
func (k *Keeper) Purge(ctx context.Context) (PurgeReport, error) {
	now := k.now().UnixNano()
	var rep PurgeReport
	sessions, err := k.st.Strings(ctx, "SELECT session_id FROM retention_transcripts WHERE destroyed_at IS NULL AND expires_at <= ?", now)
	if err != nil {
		return rep, fmt.Errorf("retention: %w", err)
	}
	for _, s := range sessions {
		if _, err := k.vault.ShredOwner(ctx, vault.ClassTranscript, transcriptOwner(s)); err != nil {
			return rep, err
		}
		err := k.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.SecureDelete(ctx); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM retention_lines WHERE session_id = ?", s); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE retention_transcripts SET destroyed_at = ?, destroy_reason = 'expired', lines = 0
				WHERE session_id = ?`, now, s)
			return err
		})
		if err != nil {
			return rep, fmt.Errorf("retention: %w", err)
		}
		rep.Transcripts++
	}
	ids, err := k.snippetIDs(ctx, "destroyed_at IS NULL AND expires_at <= ?", now)
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := k.destroySnippet(ctx, id, "expired"); err != nil {
			return rep, err
		}
		rep.Snippets++
	}
	if rep.Transcripts+rep.Snippets > 0 {
		if err := k.record(ctx, "retention.purge", "retention",
			map[string]string{"transcripts": fmt.Sprint(rep.Transcripts), "snippets": fmt.Sprint(rep.Snippets)}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// Run purges every interval until ctx ends (izwi serve starts it).
func (k *Keeper) Run(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if rep, err := k.Purge(ctx); err != nil {
			log.Error("retention purge failed", "err", err)
		} else if rep.Transcripts+rep.Snippets > 0 {
			log.Info("retention purge", "transcripts", rep.Transcripts, "snippets", rep.Snippets)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
