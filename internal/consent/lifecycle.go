package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// get reads record id with its history; an erased record comes back with
// its metadata only.
func (s *Service) get(ctx context.Context, id string) (Record, error) {
	var r Record
	var status, subject, purpose string
	var given, deadline int64
	var sealed []byte
	err := s.db.QueryRowContext(ctx, "SELECT subject, purpose, status, given_at, deadline, sealed FROM consent_records WHERE id = ?", id).
		Scan(&subject, &purpose, &status, &given, &deadline, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("consent: %w", err)
	}
	if sealed != nil {
		pt, err := s.vault.Open(ctx, vault.ClassConsent, id, sealed)
		if err != nil {
			return r, fmt.Errorf("consent: open %s: %w", id, err)
		}
		err = json.Unmarshal(pt, &r)
		clear(pt)
		if err != nil {
			return r, fmt.Errorf("consent: %s: %w", id, err)
		}
	}
	r.ID, r.Subject, r.Purpose, r.Status = id, subject, Purpose(purpose), Status(status)
	r.GivenAt, r.Deadline = time.Unix(0, given).UTC(), time.Unix(0, deadline).UTC()
	rows, err := s.db.QueryContext(ctx, "SELECT at, status, actor, reason FROM consent_history WHERE consent_id = ? ORDER BY seq", id)
	if err != nil {
		return r, fmt.Errorf("consent: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Change
		var at int64
		var st string
		if err := rows.Scan(&at, &st, &c.Actor, &c.Reason); err != nil {
			return r, fmt.Errorf("consent: %w", err)
		}
		c.At, c.Status = time.Unix(0, at).UTC(), Status(st)
		r.History = append(r.History, c)
	}
	return r, rows.Err()
}

// Withdraw ends consent id at once: the record says withdrawn (kept, sealed,
// as proof of what was agreed and when it ended) and the subject's
// biometric key is shredded, so every voiceprint and snippet sealed under
// it is gone. Calling it again retries the shred.
//
// reason is a short code such as "subject_request" (lower-case letters and
// _ only): it goes in the history and the audit log, which hold no
// personal details.
func (s *Service) Withdraw(ctx context.Context, id, actor, reason string) error {
	if !reasonCode(reason) {
		return fmt.Errorf("%w: reason %q: want a short code such as subject_request, never free text", ErrInvalid, reason)
	}
	return s.end(ctx, id, actor, reason, StatusWithdrawn, "consent.withdraw")
}

// reasonCode reports whether r is empty or a code of at most 32 of a-z and _.
func reasonCode(r string) bool {
	if len(r) > 32 {
		return false
	}
	for _, c := range r {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// end moves an active record to status and shreds the subject key.
func (s *Service) end(ctx context.Context, id, actor, reason string, status Status, action string) error {
	var subject, cur string
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT subject, status FROM consent_records WHERE id = ?", id).Scan(&subject, &cur); err != nil {
			return err
		}
		if Status(cur) != StatusActive {
			return nil // already ended: only the shred below is retried
		}
		if _, err := tx.ExecContext(ctx, "UPDATE consent_records SET status = ? WHERE id = ?", string(status), id); err != nil {
			return err
		}
		return s.change(ctx, tx, id, Change{At: s.now().UTC(), Status: status, Actor: actor, Reason: reason}, action,
			map[string]string{"subject": subject})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("consent: %s: %w", action, err)
	}
	if _, err := s.vault.ShredOwner(vault.WithActor(ctx, actor), vault.ClassSubject, subject); err != nil {
		return fmt.Errorf("consent: %s recorded, but shredding the subject's data failed (call again): %w", status, err)
	}
	return nil
}

// Expire ends every active consent whose deadline has passed (the purge
// job; run it on a timer) and returns how many it ended.
func (s *Service) Expire(ctx context.Context) (int, error) {
	ids, err := s.st.Strings(ctx, "SELECT id FROM consent_records WHERE status = 'active' AND deadline <= ?", s.now().UnixNano())
	if err != nil {
		return 0, fmt.Errorf("consent: %w", err)
	}
	for i, id := range ids {
		if err := s.end(ctx, id, "system:retention", "term_ended", StatusExpired, "consent.expire"); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// Erase serves a subject's erasure request (GDPR Art. 17): every consent
// record of subject is marked erased, its sealed payload (evidence, names)
// removed and its key shredded, and the subject's biometric key is
// shredded. What stays is the pseudonymous history (ids, times, statuses),
// which shows that consent existed and ended. Returns the records erased.
func (s *Service) Erase(ctx context.Context, subject, actor string) (int, error) {
	ids, err := s.st.Strings(ctx, "SELECT id FROM consent_records WHERE subject = ? AND status <> 'erased'", subject)
	if err != nil {
		return 0, fmt.Errorf("consent: %w", err)
	}
	vctx := vault.WithActor(ctx, actor)
	if _, err := s.vault.ShredOwner(vctx, vault.ClassSubject, subject); err != nil {
		return 0, fmt.Errorf("consent: erase: %w", err)
	}
	for i, id := range ids {
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.SecureDelete(ctx); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE consent_records SET status = 'erased', sealed = NULL WHERE id = ?", id); err != nil {
				return err
			}
			return s.change(ctx, tx, id, Change{At: s.now().UTC(), Status: StatusErased, Actor: actor, Reason: "erasure_request"},
				"consent.erase", map[string]string{"subject": subject})
		})
		if err != nil {
			return i, fmt.Errorf("consent: erase %s: %w", id, err)
		}
		if _, err := s.vault.ShredOwner(vctx, vault.ClassConsent, id); err != nil {
			return i, fmt.Errorf("consent: erase %s: %w", id, err)
		}
	}
	return len(ids), nil
}

// Export returns every consent record of subject, decrypted, with its
// history (the subject's right of access); the export itself is audited.
// Voiceprints are never part of an export.
func (s *Service) Export(ctx context.Context, subject, actor string) ([]Record, error) {
	ids, err := s.st.Strings(ctx, "SELECT id FROM consent_records WHERE subject = ? ORDER BY given_at", subject)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	out := make([]Record, 0, len(ids))
	for _, id := range ids {
		r, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		return s.rec.RecordTx(ctx, tx, auditExport(actor, subject, len(out)))
	})
	if err != nil {
		return nil, fmt.Errorf("consent: export: %w", err)
	}
	return out, nil
}

func auditExport(actor, subject string, n int) audit.Event {
	return audit.Event{Actor: actor, Action: "consent.export", Target: subject, Outcome: "ok",
		Details: map[string]string{"records": strconv.Itoa(n)}}
}

// Summary is a consent record's plaintext metadata: enough to show status
// without decrypting evidence (reading it is not access to personal data).
type Summary struct {
	ID       string    `json:"id"`
	Purpose  Purpose   `json:"purpose"`
	Status   Status    `json:"status"`
	GivenAt  time.Time `json:"given_at"`
	Deadline time.Time `json:"deadline"`
}

// Summaries lists subject's records, oldest first, without their sealed
// evidence. An active record past its deadline reads as expired.
func (s *Service) Summaries(ctx context.Context, subject string) ([]Summary, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, purpose, status, given_at, deadline FROM consent_records WHERE subject = ? ORDER BY given_at", subject)
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	defer rows.Close()
	now := s.now()
	out := []Summary{}
	for rows.Next() {
		var x Summary
		var purpose, status string
		var given, deadline int64
		if err := rows.Scan(&x.ID, &purpose, &status, &given, &deadline); err != nil {
			return nil, fmt.Errorf("consent: %w", err)
		}
		x.Purpose, x.Status = Purpose(purpose), Status(status)
		x.GivenAt, x.Deadline = time.Unix(0, given).UTC(), time.Unix(0, deadline).UTC()
		if x.Status == StatusActive && !now.Before(x.Deadline) {
			x.Status = StatusExpired
		}
		out = append(out, x)
	}
	return out, rows.Err()
}
