package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RecordTx appends e inside the caller's transaction on the same database,
// so the audited change and its entry commit or roll back together: the
// strongest form of "an action that cannot be audited does not happen".
//
//	err := st.Tx(ctx, func(tx *sql.Tx) error {
//		if _, err := tx.ExecContext(ctx, "UPDATE keys SET revoked = 1 WHERE id = ?", id); err != nil {
//			return err
//		}
//		return log.RecordTx(ctx, tx, audit.Event{Actor: who, Action: "key.revoke", Target: "key:" + id, Outcome: audit.OutcomeOK})
//	})
//
// The entry is as durable as the caller's commit (the store's
// synchronous=NORMAL in WAL mode: safe against a crash of izwi, not
// necessarily against power loss, when change and entry are lost together).
// Count-based checkpoints do not see these entries: a checkpoint follows
// shortly after the commit (and the interval timer covers them too).
//
// Inside a transaction use RecordTx, never Record: the store has one
// connection, which the transaction holds, so Record would wait for it.
// Two RecordTx racing on separate connections make the later transaction
// fail on the seq key (the caller retries or fails the action).
func (l *Log) RecordTx(ctx context.Context, tx *sql.Tx, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	e.RemoteIP = pseudonymizeIP(l.ipKey, e.RemoteIP)
	// Read the head inside tx: the in-memory head may be stale, and Record's
	// seq conflict check reloads it once this commits.
	seq, head := int64(0), Genesis()
	var last time.Time
	var entry, hash []byte
	err = tx.QueryRowContext(ctx, "SELECT seq, entry, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &entry, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows): // the first entry
	case err != nil:
		return fmt.Errorf("audit: read head: %w", err)
	default:
		prev, derr := Decode(entry)
		if derr != nil || len(hash) != HashSize {
			return fmt.Errorf("audit: last entry %d is damaged; run izwi audit verify", seq)
		}
		copy(head[:], hash)
		last = prev.Event.Time
	}
	now := l.opts.Now().UTC().Round(0)
	if now.Before(last) {
		now = last
	}
	e.Time = now
	b, err := Encode(Entry{Seq: seq + 1, Event: e})
	if err != nil {
		return err
	}
	h := ChainHash(head, b)
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit_log(seq, entry, prev, hash) VALUES(?, ?, ?, ?)",
		seq+1, b, head[:], h[:]); err != nil {
		return fmt.Errorf("audit: append %d: %w", seq+1, err)
	}
	if err := storeTree(ctx, tx, seq+1, b); err != nil {
		return err
	}
	// Anchor it soon after the caller commits (the timers goroutine reads
	// the committed head, so a rolled-back entry is never signed).
	select {
	case l.seal <- struct{}{}:
	default:
	}
	return nil
}
