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
	// Time is set by the log when it appends the event (its clock, UTC,
	// never earlier than the previous entry); a caller's value is ignored.
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
	Outcome string `json:"outcome"`
	// RemoteIP is the client address as the gateway resolved it (through
	// trusted proxies only). Log stores it pseudonymised: the /24 (IPv4) or
	// /48 (IPv6) network and a keyed hash of the address, never the address.
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
//
// Callers record before they answer: for a change (key.create, user.disable)
// record once the change is committed and fail the request (500) if Record
// fails, or better record inside the change's decision so a failure aborts
// it; for a denial (auth.failure) the request is refused either way.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}
