package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// watchSlack widens each look back for revocations: revoked_at is whole
// seconds from the revoking process's clock, which on another machine may
// run a little behind ours.
const watchSlack = time.Minute

// WatchRevocations applies revocations made by other processes, in case
// their announcement (KeyStoreConfig.Announce, over the bus) did not reach
// this one: `izwi keys revoke` run without a bus, or a bus that is down.
// Every period it drops the cached verification of keys revoked since the
// last look and calls OnRevoke for them, so what was derived from them
// (outstanding tickets, open WebSockets) is dropped within about one period.
// On SQLite it reads the database only when the shared epoch file moved; on
// PostgreSQL, whose writers may be on other machines, every period (one
// indexed query). Changes made through this KeyStore already call OnRevoke
// directly. It returns when ctx is done; the caller owns the goroutine it
// runs in.
func (ks *KeyStore) WatchRevocations(ctx context.Context, every time.Duration) error {
	shared := ks.db.Dialect() == store.Postgres
	if !shared && (ks.onRevoke == nil || ks.epoch == nil) {
		<-ctx.Done()
		return nil
	}
	w := newRevocationWatch(ks)
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
	ks     *KeyStore
	always bool // poll whether or not the epoch moved
	epoch  [epochSize]byte
	since  int64            // Unix seconds of the last look
	seen   map[string]int64 // reported key ids → revoked_at, kept for watchSlack
}

func newRevocationWatch(ks *KeyStore) *revocationWatch {
	w := &revocationWatch{ks: ks, always: ks.db.Dialect() == store.Postgres, since: ks.now().Unix(), seen: map[string]int64{}}
	if ks.epoch != nil {
		w.epoch = ks.epoch.read()
	}
	return w
}

// poll reports keys revoked since the last look, each once.
func (w *revocationWatch) poll(ctx context.Context) error {
	var e [epochSize]byte
	if w.ks.epoch != nil {
		e = w.ks.epoch.read()
	}
	if e == w.epoch && !w.always {
		return nil
	}
	now := w.ks.now().Unix()
	from := w.since - int64(watchSlack/time.Second)
	rows, err := w.ks.db.QueryContext(ctx, `SELECT id, lineage, revoked_at FROM auth_keys WHERE revoked_at >= ?`, from)
	if err != nil {
		return fmt.Errorf("auth: watching revocations: %w", err)
	}
	defer rows.Close()
	type revoked struct{ id, subject string }
	var found []revoked
	for rows.Next() {
		var id, lineage string
		var at int64
		if err := rows.Scan(&id, &lineage, &at); err != nil {
			return fmt.Errorf("auth: watching revocations: %w", err)
		}
		if _, ok := w.seen[id]; !ok {
			w.seen[id] = at
			found = append(found, revoked{id, "key:" + lineage})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("auth: watching revocations: %w", err)
	}
	for id, at := range w.seen {
		if at < from {
			delete(w.seen, id)
		}
	}
	for _, r := range found {
		w.ks.RevokedElsewhere(r.id, r.subject)
	}
	w.epoch, w.since = e, now
	return nil
}
