package config

import "fmt"

// Viewer-feed defaults, documented in izwi.example.toml.
const (
	DefaultViewersMaxFeeds      = 20000
	DefaultViewersMaxPerIP      = 16
	DefaultViewersMaxPerSession = 5000
	DefaultViewersReservedFDs   = 512
	DefaultViewersGuesses       = 10
)

// Viewers bounds the public caption feeds (SSE and WebSocket), which need
// no credentials: per client address, per session, and in all, where the
// total is also held under the process's descriptor limit less
// ReservedFDs, kept for authenticated callers, /healthz, the database and
// the engines.
type Viewers struct {
	// MaxFeeds caps anonymous viewer feeds in this process
	// (IZWI_VIEWERS_MAX_FEEDS). Default 20000, lowered to the descriptor
	// limit less reserved_fds.
	MaxFeeds int `json:"max_feeds,omitempty" toml:"max_feeds"`
	// MaxPerIP caps the feeds one client address (an IPv6 /64) holds
	// (IZWI_VIEWERS_MAX_PER_IP). Default 16.
	MaxPerIP int `json:"max_per_ip,omitempty" toml:"max_per_ip"`
	// MaxPerSession caps the anonymous feeds of one session
	// (IZWI_VIEWERS_MAX_PER_SESSION). Default 5000.
	MaxPerSession int `json:"max_per_session,omitempty" toml:"max_per_session"`
	// ReservedFDs are the descriptors anonymous viewers may never take
	// (IZWI_VIEWERS_RESERVED_FDS). Default 512.
	ReservedFDs int `json:"reserved_fds,omitempty" toml:"reserved_fds"`
	// PasswordGuessesPerMinute is each session's budget of wrong viewer
	// passwords or link tokens, from any address
	// (IZWI_VIEWERS_PASSWORD_GUESSES_PER_MINUTE). Default 10.
	PasswordGuessesPerMinute int `json:"password_guesses_per_minute,omitempty" toml:"password_guesses_per_minute"`
}

func (x Viewers) defaults(Config) Viewers {
	if x.MaxFeeds == 0 {
		x.MaxFeeds = DefaultViewersMaxFeeds
	}
	if x.MaxPerIP == 0 {
		x.MaxPerIP = DefaultViewersMaxPerIP
	}
	if x.MaxPerSession == 0 {
		x.MaxPerSession = DefaultViewersMaxPerSession
	}
	if x.ReservedFDs == 0 {
		x.ReservedFDs = DefaultViewersReservedFDs
	}
	if x.PasswordGuessesPerMinute == 0 {
		x.PasswordGuessesPerMinute = DefaultViewersGuesses
	}
	return x
}

func (x Viewers) validate() []error {
	var errs []error
	for _, f := range []struct {
		name    string
		v, l, h int
	}{
		{"max_feeds", x.MaxFeeds, 1, 1_000_000}, {"max_per_ip", x.MaxPerIP, 1, 100_000},
		{"max_per_session", x.MaxPerSession, 1, 1_000_000}, {"reserved_fds", x.ReservedFDs, 64, 1_000_000},
		{"password_guesses_per_minute", x.PasswordGuessesPerMinute, 1, 10_000},
	} {
		if f.v < f.l || f.v > f.h {
			errs = append(errs, fmt.Errorf("config: viewers.%s %d: want %d to %d", f.name, f.v, f.l, f.h))
		}
	}
	return errs
}

func (x *Viewers) applyEnv(e envReader) {
	e.Int("IZWI_VIEWERS_MAX_FEEDS", &x.MaxFeeds)
	e.Int("IZWI_VIEWERS_MAX_PER_IP", &x.MaxPerIP)
	e.Int("IZWI_VIEWERS_MAX_PER_SESSION", &x.MaxPerSession)
	e.Int("IZWI_VIEWERS_RESERVED_FDS", &x.ReservedFDs)
	e.Int("IZWI_VIEWERS_PASSWORD_GUESSES_PER_MINUTE", &x.PasswordGuessesPerMinute)
}

func (x Viewers) envVars() []string {
	return []string{"IZWI_VIEWERS_MAX_FEEDS", "IZWI_VIEWERS_MAX_PER_IP", "IZWI_VIEWERS_MAX_PER_SESSION", "IZWI_VIEWERS_RESERVED_FDS",
		"IZWI_VIEWERS_PASSWORD_GUESSES_PER_MINUTE"}
}
