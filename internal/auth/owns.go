package auth

import (
	"errors"
	"net/http"
)

// Owns reports whether p may see an object owned by ownerSubject. Handlers
// that find an object the caller does not own answer 404, not 403, so one
// key cannot learn that another key's session or transcript exists.
// Admin principals do not own others' objects through this check: admin
// access to them goes through the admin routes, which are audited.
func Owns(p Principal, ownerSubject string) bool {
	return p.Subject != "" && p.Subject == ownerSubject
}

// Chain tries authenticators in order: the first that recognises a
// credential decides (its success or its failure); if none does, the
// request has no credentials.
type Chain []Authenticator

var _ Authenticator = Chain(nil)

// Authenticate implements Authenticator.
func (c Chain) Authenticate(r *http.Request) (Principal, error) {
	for _, a := range c {
		p, err := a.Authenticate(r)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrNoCredentials) {
			return Principal{}, err
		}
	}
	return Principal{}, ErrNoCredentials
}
