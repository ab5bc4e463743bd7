package audit

import (
	"context"
	"fmt"

	"github.com/izwi-speech/izwi/internal/store"
)

// RecordTx appends e inside the caller's transaction on the same database,
// so the audited change and its entry commit or roll back together: the
// strongest form of "an action that cannot be audited does not happen".
//
//	err := st.Tx(ctx, func(tx *store.Tx) error {
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
func (l *Log) RecordTx(ctx context.Context, tx *store.Tx, e Event) error {
	e, err := normalize(e)
	if err != nil {
		return err
	}
	e.RemoteIP = pseudonymizeIP(l.ipKey, e.RemoteIP)
	// Chain to the head inside tx (under the chain lock): the in-memory
	// head may be stale.
	if _, _, _, err := chainTx(ctx, tx, l.opts.Now(), &e); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	// Anchor it soon after the caller commits (the timers goroutine reads
	// the committed head, so a rolled-back entry is never signed).
	select {
	case l.seal <- struct{}{}:
	default:
	}
	return nil
}
