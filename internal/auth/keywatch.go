package auth

import (
	"context"
	"fmt"
	"time"
)

// WatchRevocations calls the store's OnRevoke for keys revoked by other
// processes (`izwi keys revoke` while the server runs), so that what was
// derived from them in this process (outstanding tickets, open WebSockets)
// is dropped within about one period. Changes made through this KeyStore
// already call OnRevoke directly. It returns when ctx is done; the caller
// owns the goroutine it runs in.
func (ks *KeyStore) WatchRevocations(ctx context.Context, every time.Duration) error {
	if ks.onRevoke == nil || ks.epoch == nil {
		<-ctx.Done()
		return nil
	}
	w := &revocationWatch{ks: ks, epoch: ks.epoch.read(), since: ks.now().Unix()}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := w.poll(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// revocationWatch remembers what it has already reported.
type revocationWatch struct {
	ks    *KeyStore
	epoch [epochSize]byte
	since int64 // Unix seconds; revocations at or after it are reported
}

// poll reports keys revoked since the last poll, if the epoch moved. A key
// revoked within the same second as the last poll may be reported twice;
// OnRevoke must be idempotent (dropping tickets is).
func (w *revocationWatch) poll(ctx context.Context) error {
	e := w.ks.epoch.read()
	if e == w.epoch {
		return nil
	}
	now := w.ks.now().Unix()
	rows, err := w.ks.db.QueryContext(ctx, `SELECT lineage FROM auth_keys WHERE revoked_at >= ?`, w.since)
	if err != nil {
		return fmt.Errorf("auth: watching revocations: %w", err)
	}
	defer rows.Close()
	var subjects []string
	for rows.Next() {
		var lineage string
		if err := rows.Scan(&lineage); err != nil {
			return fmt.Errorf("auth: watching revocations: %w", err)
		}
		subjects = append(subjects, "key:"+lineage)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("auth: watching revocations: %w", err)
	}
	for _, s := range subjects {
		w.ks.onRevoke(s)
	}
	w.epoch, w.since = e, now
	return nil
}
