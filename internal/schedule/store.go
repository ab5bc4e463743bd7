package schedule

import (
	"context"
	"time"
)

// RuleStore keeps the rules. Implementations: SQLite (sqlite.go).
type RuleStore interface {
	Rules(ctx context.Context) ([]Rule, error)
	PutRule(ctx context.Context, r Rule) error
	// DeleteRule removes a rule (a missing one is not an error); a session
	// it started still stops at its time (its Run remembers when).
	DeleteRule(ctx context.Context, id string) error
}

// RunStore remembers what the runner started, so a restart neither starts
// an occurrence twice nor forgets to stop one.
type RunStore interface {
	// Runs returns every run not ended, and those that stopped after since.
	Runs(ctx context.Context, since time.Time) ([]Run, error)
	// PutRun inserts or replaces the run of (RuleID, Start).
	PutRun(ctx context.Context, r Run) error
}

// Run is one occurrence the runner acted on.
type Run struct {
	RuleID    string
	Start     time.Time // the occurrence's window
	Stop      time.Time
	SessionID string // "" until the session exists
	Ended     bool   // stopped (or never started: Missed)
	// Missed: the server came back after the occurrence's grace.
	Missed bool
}
