// Package limit owns per-subject quotas and rate limits: requests per second
// (token bucket with burst), concurrent sessions, audio minutes per UTC day
// and chat tokens per second and per day. A subject is an auth.Principal's
// Subject ("key:<id>", "jwt:<iss>#<sub>"). Limits come from configuration
// defaults overridden per credential (the key store keeps a Limits JSON blob
// on each key). Daily usage persists in SQLite, written behind with a bounded
// flush interval. It provides the HTTP rate-limit middleware (which also
// applies a key's own IP rules), the session-holding middleware for
// long-lived requests, the GET /v1/usage handler, and a pre-authentication
// throttle for clients that keep failing authentication. cmd/izwi wires them.
package limit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limits are one subject's limits. In configuration defaults and in a key's
// override blob a field has three meanings: 0 inherits (the default, or for
// the defaults themselves: no limit), a positive value is the limit, and a
// negative value (-1) means explicitly unlimited. The effective limits of a
// subject (Merge) use only positive values and "unlimited" (<= 0).
type Limits struct {
	// RPS is the sustained request rate; Burst is how many requests may
	// arrive at once (the bucket size; default max(1, ceil(RPS))).
	RPS   float64 `json:"rps,omitempty"`
	Burst int     `json:"burst,omitempty"`
	// MaxSessions caps concurrent live sessions (and other long requests
	// that Acquire a session).
	MaxSessions int `json:"max_sessions,omitempty"`
	// RequestsPerDay caps requests per UTC day. With a store it is counted
	// in the database, atomically, so processes sharing one enforce one
	// total.
	RequestsPerDay int64 `json:"requests_per_day,omitempty"`
	// AudioMinutesPerDay caps audio processed per UTC day.
	AudioMinutesPerDay float64 `json:"audio_minutes_per_day,omitempty"`
	// ChatTokensPerSecond is a token bucket over chat tokens (one second
	// of tokens is the burst); ChatTokensPerDay caps them per UTC day.
	ChatTokensPerSecond float64 `json:"chat_tokens_per_second,omitempty"`
	ChatTokensPerDay    int64   `json:"chat_tokens_per_day,omitempty"`
}

// maxFinite bounds every limit so arithmetic on them cannot overflow.
const maxFinite = 1e12

// Validate reports fields that are not numbers, absurdly large, or
// negative other than -1.
func (l Limits) Validate() error {
	var errs []error
	check := func(name string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v > maxFinite || (v < 0 && v != -1) {
			errs = append(errs, fmt.Errorf("limit: %s %v: want a positive number up to %g, 0 to inherit, or -1 for unlimited", name, v, float64(maxFinite)))
		}
	}
	check("rps", l.RPS)
	check("burst", float64(l.Burst))
	check("max_sessions", float64(l.MaxSessions))
	check("requests_per_day", float64(l.RequestsPerDay))
	check("audio_minutes_per_day", l.AudioMinutesPerDay)
	check("chat_tokens_per_second", l.ChatTokensPerSecond)
	check("chat_tokens_per_day", float64(l.ChatTokensPerDay))
	return errors.Join(errs...)
}

// ParseLimits decodes a key's override blob; empty means no overrides.
// Unknown fields are refused so a misspelt limit is not silently ignored.
func ParseLimits(blob []byte) (Limits, error) {
	var l Limits
	if len(blob) == 0 {
		return l, nil
	}
	dec := json.NewDecoder(bytes.NewReader(blob))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Limits{}, fmt.Errorf("limit: per-key limits: %w", err)
	}
	if dec.More() {
		return Limits{}, errors.New("limit: per-key limits: trailing data")
	}
	if err := l.Validate(); err != nil {
		return Limits{}, err
	}
	return l, nil
}

// Merge returns the effective limits: each non-zero field of override
// replaces the default; negative values become "unlimited" (0).
func Merge(defaults, override Limits) Limits {
	pickF := func(d, o float64) float64 {
		if o != 0 {
			d = o
		}
		return max(d, 0)
	}
	pickI := func(d, o int64) int64 {
		if o != 0 {
			d = o
		}
		return max(d, 0)
	}
	e := Limits{
		RPS:                 pickF(defaults.RPS, override.RPS),
		Burst:               int(pickI(int64(defaults.Burst), int64(override.Burst))),
		MaxSessions:         int(pickI(int64(defaults.MaxSessions), int64(override.MaxSessions))),
		RequestsPerDay:      pickI(defaults.RequestsPerDay, override.RequestsPerDay),
		AudioMinutesPerDay:  pickF(defaults.AudioMinutesPerDay, override.AudioMinutesPerDay),
		ChatTokensPerSecond: pickF(defaults.ChatTokensPerSecond, override.ChatTokensPerSecond),
		ChatTokensPerDay:    pickI(defaults.ChatTokensPerDay, override.ChatTokensPerDay),
	}
	if e.RPS > 0 && e.Burst == 0 {
		e.Burst = int(math.Max(1, math.Ceil(e.RPS)))
	}
	return e
}

// audioLimitMs is the daily audio limit in milliseconds (0 = unlimited).
func (l Limits) audioLimitMs() int64 {
	return int64(math.Round(l.AudioMinutesPerDay * 60_000))
}

// utcDay names t's UTC day, the key of daily counters.
func utcDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// nextUTCMidnight is when t's day's counters reset.
func nextUTCMidnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
