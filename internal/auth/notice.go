package auth

import (
	"errors"
	"strings"
)

// RevocationNotice is how a revocation (Announce's id and subject) travels
// between processes: "<id> <lineage>", both public key ids.
func RevocationNotice(id, subject string) []byte {
	return []byte(id + " " + strings.TrimPrefix(subject, "key:"))
}

var errNotice = errors.New("auth: malformed revocation notice")

// ParseRevocationNotice reads what RevocationNotice wrote, refusing
// anything else.
func ParseRevocationNotice(b []byte) (id, subject string, err error) {
	id, lineage, ok := strings.Cut(string(b), " ")
	if !ok || !ValidKeyID(id) || !ValidKeyID(lineage) {
		return "", "", errNotice
	}
	return id, "key:" + lineage, nil
}
