// Package secrets owns how Izwi reads credentials it is given (scrape tokens,
// HMAC keys, passphrases): from an IZWI_* environment variable, from a file
// named by IZWI_*_FILE or by a config key, or from a systemd credential
// ($CREDENTIALS_DIRECTORY/<name>). A value read here is a Secret, which
// refuses to print itself: fmt, slog and encoding/json all see "[redacted]".
// Any package may import it; it imports nothing of Izwi's.
package secrets

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Redacted is what a Secret shows wherever it is printed, logged or encoded.
const Redacted = "[redacted]"

// Secret holds a credential. The zero value is "no secret". Its value is
// reachable only through Reveal and Equal, so it cannot leak through %v,
// a log attribute or a JSON response by accident.
type Secret struct {
	// noCompare makes == a compile error: comparing secrets must go
	// through Equal, which takes constant time.
	noCompare [0]func()
	v         string
}

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)

// New wraps s. Use it for secrets Izwi generates itself.
func New(s string) Secret { return Secret{v: s} }

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.v == "" }

// Len is the secret's length in bytes (for strength checks; not secret).
func (s Secret) Len() int { return len(s.v) }

// Reveal returns the value. Call it only at the point of use (a signature,
// a comparison done elsewhere), never to log or return it.
func (s Secret) Reveal() string { return s.v }

// Equal compares the secret with a candidate in constant time (for inputs of
// the same length; the length itself is not secret). A zero Secret equals
// nothing, so an unset token can never be matched by an empty one.
func (s Secret) Equal(candidate string) bool {
	if s.v == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(candidate)) == 1
}

// String redacts.
func (s Secret) String() string { return Redacted }

// GoString redacts (%#v).
func (s Secret) GoString() string { return "secrets.Secret{" + Redacted + "}" }

// Format redacts for every verb, so even %x or %q cannot dump the value.
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue redacts in log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON redacts in encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText redacts in encoding.TextMarshaler users (TOML, XML, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
