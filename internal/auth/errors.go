package auth

import (
	"errors"
	"fmt"
)

// ErrCredentialsInURL is returned for a request that carries a credential
// in its query string: URLs end up in proxy logs, browser history and
// Referer headers, so such a request is refused (and the URL never logged).
var ErrCredentialsInURL = fmt.Errorf("%w: credentials in the url", ErrInvalidCredentials)

// Failure is an authentication failure with what may be recorded about it:
// the actor (the key's public id when the id is known, else "anonymous")
// and a short reason. It never holds the credential.
type Failure struct {
	Actor  string // "key:<id>", "jwt:<iss>#<sub>", "anonymous"
	Reason string // "malformed", "unknown_key", "bad_secret", "revoked", "expired", ...
	Err    error  // wraps ErrInvalidCredentials, ErrExpired or ErrRevoked
}

func (f *Failure) Error() string { return f.Err.Error() + " (" + f.Reason + ")" }

// Unwrap returns the sentinel.
func (f *Failure) Unwrap() error { return f.Err }

// FailureOf describes err for the audit log: actor and reason.
func FailureOf(err error) (actor, reason string) {
	var f *Failure
	if errors.As(err, &f) {
		return f.Actor, f.Reason
	}
	switch {
	case errors.Is(err, ErrCredentialsInURL):
		return "anonymous", "credentials_in_url"
	case errors.Is(err, ErrNoCredentials):
		return "anonymous", "no_credentials"
	case errors.Is(err, ErrExpired):
		return "anonymous", "expired"
	case errors.Is(err, ErrRevoked):
		return "anonymous", "revoked"
	}
	return "anonymous", "invalid"
}
