package live

import (
	"context"
	"fmt"

	"github.com/izwi-speech/izwi/internal/audit"
)

// hooks owns what the manager tells the rest of the system about a
// session: the audit log (who created, started, stopped or deleted it:
// ids only) and the privacy hooks (Privacy: keeping finals and snippets,
// naming speakers, forgetting a deleted session). Both may do I/O: they
// are called with no session lock held.
type hooks struct {
	aud     audit.Recorder
	privacy Privacy
}

// record audits action on session id by actor.
func (h hooks) record(ctx context.Context, actor, action, id, outcome string, details map[string]string) error {
	if h.aud == nil {
		return nil
	}
	if err := h.aud.Record(ctx, audit.Event{Actor: actor, Action: action, Target: "session:" + id,
		Outcome: outcome, Details: details}); err != nil {
		return fmt.Errorf("live: audit: %w", err)
	}
	return nil
}

// keeper is the hook storing a session's finals, nil unless it keeps its
// transcript.
func (h hooks) keeper(keepTranscript bool) func(Event) {
	if !keepTranscript {
		return nil
	}
	return h.privacy.Keep
}

// forget destroys what was kept of a deleted session.
func (h hooks) forget(id string) {
	if h.privacy.Forget != nil {
		h.privacy.Forget(id)
	}
}

// actor names who acts for the audit log.
func actor(owner string) string {
	if owner == "" {
		return "admin"
	}
	return owner
}
