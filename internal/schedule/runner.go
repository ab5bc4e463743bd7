package schedule

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
)

// Sessions is what the runner needs from live captions (cmd/izwi adapts
// live.Manager).
type Sessions interface {
	// Begin creates a session for r (label, vocabulary, viewer mode),
	// starts it and attaches r.Source when set; it returns the session id.
	Begin(ctx context.Context, r Rule) (string, error)
	// End stops the session; one already stopped or gone is not an error.
	End(ctx context.Context, sessionID string) error
}

// Recorder receives the runner's audit events (audit.Log).
type Recorder interface {
	Record(ctx context.Context, e audit.Event) error
}

// DefaultEvery is how often Run checks the rules.
const DefaultEvery = 10 * time.Second

// keepRuns is how long ended runs stay visible to the runner.
const keepRuns = 48 * time.Hour

// Runner starts and stops scheduled sessions. Tick does one pass; Run calls
// it every Every until ctx ends. The clock is injectable (Now).
type Runner struct {
	Rules    RuleStore
	Runs     RunStore
	Sessions Sessions
	Audit    Recorder // nil: no audit events
	Log      *slog.Logger
	Now      func() time.Time
	Every    time.Duration
}

// Run ticks until ctx ends.
func (rn *Runner) Run(ctx context.Context) error {
	every := rn.Every
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := rn.Tick(ctx); err != nil && ctx.Err() == nil {
			rn.log().Warn("schedule: a pass failed; retrying at the next tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (rn *Runner) log() *slog.Logger {
	if rn.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rn.Log
}

func (rn *Runner) now() time.Time {
	if rn.Now == nil {
		return time.Now()
	}
	return rn.Now()
}

// runKey identifies one occurrence of one rule.
type runKey struct {
	rule  string
	start int64
}

// Tick stops every run whose time is up, then starts every rule's current
// occurrence not started yet (within its grace; a later one is recorded as
// missed). Each start and stop is logged and audited.
func (rn *Runner) Tick(ctx context.Context) error {
	now := rn.now()
	runs, err := rn.Runs.Runs(ctx, now.Add(-keepRuns))
	if err != nil {
		return err
	}
	seen := map[runKey]Run{}
	var errs []error
	for _, run := range runs {
		seen[runKey{run.RuleID, run.Start.UnixMilli()}] = run
		if run.Ended || now.Before(run.Stop) {
			continue
		}
		if run.SessionID != "" {
			if err := rn.Sessions.End(ctx, run.SessionID); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		run.Ended = true
		if err := rn.Runs.PutRun(ctx, run); err != nil {
			errs = append(errs, err)
			continue
		}
		rn.note(ctx, "schedule.stop", run, nil)
	}
	rules, err := rn.Rules.Rules(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range rules {
		w, ok := r.Current(now)
		if !ok {
			continue
		}
		run, done := seen[runKey{r.ID, w.Start.UnixMilli()}]
		if done && (run.SessionID != "" || run.Ended) {
			continue // started already (before a restart, too), or missed
		}
		run = Run{RuleID: r.ID, Start: w.Start, Stop: w.Stop}
		if now.Sub(w.Start) > r.Grace {
			run.Ended, run.Missed = true, true
			if err := rn.Runs.PutRun(ctx, run); err != nil {
				errs = append(errs, err)
				continue
			}
			rn.note(ctx, "schedule.missed", run, map[string]string{"late_s": now.Sub(w.Start).Round(time.Second).String()})
			continue
		}
		// The run is written before the session exists: a crash in
		// between starts it again at the next start rather than never.
		if err := rn.Runs.PutRun(ctx, run); err != nil {
			errs = append(errs, err)
			continue
		}
		id, err := rn.Sessions.Begin(ctx, r)
		if err != nil {
			rn.log().Warn("schedule: could not start a scheduled session; retrying at the next tick", "rule_id", r.ID, "err", err)
			errs = append(errs, err)
			continue
		}
		run.SessionID = id
		if err := rn.Runs.PutRun(ctx, run); err != nil {
			errs = append(errs, err)
			continue
		}
		rn.note(ctx, "schedule.start", run, nil)
	}
	return errors.Join(errs...)
}

// note logs and audits a start, stop or miss (never the label: IDs only).
func (rn *Runner) note(ctx context.Context, action string, run Run, details map[string]string) {
	rn.log().Info("schedule: "+action[len("schedule."):], "rule_id", run.RuleID, "session_id", run.SessionID,
		"start", run.Start, "stop", run.Stop)
	if rn.Audit == nil {
		return
	}
	if details == nil {
		details = map[string]string{}
	}
	details["rule_id"] = run.RuleID
	target := ""
	if run.SessionID != "" {
		target = "session:" + run.SessionID
	}
	if err := rn.Audit.Record(ctx, audit.Event{Actor: "system:schedule", Action: action, Target: target, Outcome: "ok", Details: details}); err != nil {
		rn.log().Error("schedule: audit write failed", "action", action, "err", err)
	}
}
