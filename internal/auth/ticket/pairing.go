package ticket

import (
	"log/slog"
	"time"
)

// MaxPairingTTL bounds a pairing code's life: long enough to walk to the
// lectern with a phone, short enough that a photographed QR is soon useless.
const MaxPairingTTL = 15 * time.Minute

// NewPairingIssuer returns an Issuer of pairing codes: single-use tickets
// that live for ttl (at most MaxPairingTTL, beyond the 60 s WebSocket
// bound) and that a page exchanges, once, for a WebSocket ticket (the
// console's microphone pairing QR). Its codes are never accepted by an
// Authenticator, which holds the WebSocket Issuer, not this one.
func NewPairingIssuer(ttl time.Duration, maxOutstanding int, now func() time.Time, log *slog.Logger) *Issuer {
	if ttl <= 0 || ttl > MaxPairingTTL {
		ttl = MaxPairingTTL
	}
	if maxOutstanding <= 0 {
		maxOutstanding = 1024
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Issuer{now: now, ttl: ttl, max: maxOutstanding, log: log, tickets: map[[32]byte]entry{}}
}
