package audit

import "time"

// stats are the failure counters a Log keeps for Stats (guarded by Log.mu).
type stats struct {
	appends     int64
	checkpoints int64
}

// Stats is a snapshot for metrics and health checks. It holds no event
// content.
type Stats struct {
	// Entries is the log's size as this process last saw it.
	Entries int64
	// Unsealed is how many entries the latest checkpoint does not cover:
	// what could be cut off without a trace if the database were edited now.
	Unsealed int64
	// LastCheckpoint is when this process last wrote a checkpoint (zero:
	// not yet).
	LastCheckpoint time.Time
	// AppendFailures and CheckpointFailures count failed writes since
	// start; any append failure means an action was refused.
	AppendFailures     int64
	CheckpointFailures int64
}

// Stats returns the log's current figures. Register them as gauges and
// counters (audit_entries, audit_unsealed_entries, ...) and alert on
// failures or on a checkpoint older than a few intervals.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Entries: l.seq, Unsealed: l.seq - l.cpSize, LastCheckpoint: l.cpTime,
		AppendFailures: l.failures.appends, CheckpointFailures: l.failures.checkpoints}
}
