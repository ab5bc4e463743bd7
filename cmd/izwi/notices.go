package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/captionfilter"
)

// Notices between the processes of a deployment (internal/bus notice.go):
// a key revoked or rotated in one process closes its sockets and empties
// its cache entry in every other at once; caption settings changed in one
// process apply to the sessions another runs. Each receiver also re-reads
// on a timer (auth.WatchRevocations, captionfilter.Refresh) for the
// notices a down bus loses.

// announceRevocations is auth.KeyStoreConfig.Announce over broker; nil
// without a broker (the CLI without bus.url).
func announceRevocations(broker *bus.Bus) func(id, subject string) {
	if broker == nil {
		return nil
	}
	return func(id, subject string) { broker.Notify(bus.NoticeKeyRevoked, auth.RevocationNotice(id, subject)) }
}

// listenNotices applies the other processes' notices until ctx is done.
func listenNotices(ctx context.Context, broker *bus.Bus, keys *auth.KeyStore, captions *captionfilter.Filters, log *slog.Logger) error {
	if err := broker.OnNotice(ctx, bus.NoticeKeyRevoked, func(b []byte) {
		id, subject, err := auth.ParseRevocationNotice(b)
		if err != nil {
			log.Warn("ignoring a malformed revocation notice", "bytes", len(b))
			return
		}
		keys.RevokedElsewhere(id, subject)
		log.Info("revocation notice applied", "principal", id)
	}); err != nil {
		return err
	}
	return broker.OnNotice(ctx, bus.NoticeCaptionSettings, func(b []byte) {
		// One indexed read, on the subscription's goroutine.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := captions.Reload(rctx, string(b)); err != nil && ctx.Err() == nil {
			log.Warn("reloading caption settings", "err", err)
		}
	})
}

// captionRefresh is how often a server re-reads caption settings other
// processes changed, in case their notice was lost.
const captionRefresh = 5 * time.Second

// refreshEvery calls refresh every period until ctx is done, logging
// failures (the next period retries).
func refreshEvery(ctx context.Context, every time.Duration, refresh func(context.Context) error, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("re-reading shared settings", "err", err)
			}
		}
	}
}
