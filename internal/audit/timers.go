package audit

import (
	"context"
	"time"
)

// Heartbeat appends an "audit.heartbeat" entry, so that a silent stretch in
// the log means the server was not running, not that entries were removed.
func (l *Log) Heartbeat(ctx context.Context) error {
	return l.Record(ctx, Event{Actor: "system", Action: "audit.heartbeat", Outcome: OutcomeOK})
}

// tick writes a checkpoint if the log grew since the last one, counting
// entries this Log did not append itself (RecordTx, other processes).
func (l *Log) tick() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if err := l.reloadHead(); err != nil {
		l.failures.checkpoints++
		l.log.Error("audit checkpoint failed", "err", err)
		return
	}
	if l.seq == l.cpSize {
		return
	}
	if _, err := l.checkpointLocked(); err != nil {
		l.failures.checkpoints++
		l.log.Error("audit checkpoint failed", "err", err)
	}
}

// How soon after a RecordTx the log is checkpointed, and once more later.
const (
	sealDelay = 100 * time.Millisecond
	sealRetry = 2 * time.Second
)

// timers owns the checkpoint and heartbeat tickers until Close.
func (l *Log) timers() {
	defer l.wg.Done()
	var cpC, hbC <-chan time.Time
	if d := l.opts.CheckpointInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		cpC = t.C
	}
	if d := l.opts.HeartbeatInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		hbC = t.C
	}
	// After a RecordTx, checkpoint once its transaction has likely
	// committed, and again a little later for a slow one.
	var sealC <-chan time.Time
	var sealAgain bool
	for {
		select {
		case <-l.stop:
			return
		case <-l.seal:
			sealC, sealAgain = time.After(sealDelay), true
		case <-sealC:
			l.tick()
			sealC = nil
			if sealAgain {
				sealC, sealAgain = time.After(sealRetry), false
			}
		case <-cpC:
			l.tick()
		case <-hbC:
			ctx, cancel := context.WithTimeout(l.base, 30*time.Second)
			if err := l.Heartbeat(ctx); err != nil {
				l.log.Error("audit heartbeat failed", "err", err)
			}
			cancel()
		}
	}
}

// reloadHead is loadHead with a deadline, for work no caller's ctx covers.
func (l *Log) reloadHead() error {
	ctx, cancel := context.WithTimeout(l.base, 10*time.Second)
	defer cancel()
	return l.loadHead(ctx)
}
