// Package audit owns Izwi's append-only, hash-chained audit log: every admin
// action, key or user change, authentication failure and access to stored
// personal data — who, what, when, from where, never payloads — with signed
// checkpoints kept outside the database so truncation is detectable, and a
// verifier (`izwi audit verify`).
package audit

import (
	"context"
	"time"
)

// Event is one audited fact. Fields hold identifiers, never payloads,
// transcripts, secrets or raw personal data (use pseudonymous ids).
type Event struct {
	Time time.Time `json:"time"`
	// Actor is who acted: "user:<id>", "key:<public id>", "jwt:<iss>#<sub>",
	// "system", or "anonymous".
	Actor string `json:"actor"`
	// Action is a dotted verb: "key.create", "key.revoke", "user.login",
	// "auth.failure", "mfa.enroll", "data.read", ...
	Action string `json:"action"`
	// Target is what was acted on ("key:<id>", "user:<id>", "session:<id>").
	Target string `json:"target,omitempty"`
	// Outcome is "ok", "denied" or "error".
	Outcome   string `json:"outcome"`
	RemoteIP  string `json:"remote_ip,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Details are short, non-personal key/values ("reason": "bad_password").
	Details map[string]string `json:"details,omitempty"`
}

// Recorder appends events to the audit log.
//
// Contract: Record returns only after the event is durably appended; if it
// returns an error the caller must fail the audited action (an action that
// cannot be audited does not happen). Safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}
