// Package sdnotify owns Izwi's conversation with systemd (Type=notify):
// READY=1 once the server listens, STOPPING=1 when it begins to shut down,
// and WATCHDOG=1 pings at half the WatchdogSec systemd asked for while the
// process is healthy, so a wedged server is restarted. Outside systemd (no
// NOTIFY_SOCKET) every call does nothing. The protocol is spoken by
// github.com/coreos/go-systemd/v22/daemon.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd the service is up. It reports whether a notify
// socket was there to tell.
func Ready() (bool, error) { return notify(daemon.SdNotifyReady) }

// Stopping tells systemd the service is shutting down.
func Stopping() (bool, error) { return notify(daemon.SdNotifyStopping) }

func notify(state string) (bool, error) {
	ok, err := daemon.SdNotify(false, state)
	if err != nil {
		return false, fmt.Errorf("sdnotify: %w", err)
	}
	return ok, nil
}

// checkTimeout bounds one health check, so a wedged dependency stops the
// pings instead of hanging the pinger.
const checkTimeout = 2 * time.Second

// Watchdog pings systemd's watchdog until ctx ends, at half the interval
// systemd set (WATCHDOG_USEC), each time healthy passes; a failing check
// skips the ping (and is logged), so systemd restarts a server that stays
// unhealthy. Without a watchdog it returns at once.
func Watchdog(ctx context.Context, healthy func(context.Context) error, log *slog.Logger) error {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("sdnotify: watchdog: %w", err)
	}
	if every <= 0 {
		return nil
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := healthy(cctx)
		cancel()
		if err == nil {
			if _, err := notify(daemon.SdNotifyWatchdog); err != nil {
				log.Warn("watchdog ping failed", "err", err)
			}
		} else if ctx.Err() == nil {
			log.Warn("watchdog ping skipped: unhealthy", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
