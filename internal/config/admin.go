package config

import (
	"fmt"
	"time"
)

// Minimum argon2id parameters (OWASP ASVS 5.0 / OWASP password storage
// cheat sheet): m = 19 MiB, t = 2, p = 1. Validate refuses weaker settings.
const (
	MinArgon2MemoryKiB   = 19 * 1024
	MinArgon2Iterations  = 2
	MinArgon2Parallelism = 1
	// MaxLockoutFailures is the ceiling NIST SP 800-63B sets on consecutive
	// failed attempts per account.
	MaxLockoutFailures = 100
)

// Admin configures the admin console: users, passwords, MFA, sessions.
// Keep every key documented in izwi.example.toml (a test checks).
type Admin struct {
	// SessionIdleTimeout ends a session unused for this long. Default 30m.
	SessionIdleTimeout Duration `json:"session_idle_timeout,omitempty" toml:"session_idle_timeout"`
	// SessionAbsoluteTimeout ends a session this long after login, however
	// active. Default 12h.
	SessionAbsoluteTimeout Duration `json:"session_absolute_timeout,omitempty" toml:"session_absolute_timeout"`
	// ThrottleFreeFailures is how many consecutive failed logins an account
	// may have before each further attempt must wait. Default 5.
	ThrottleFreeFailures int `json:"throttle_free_failures,omitempty" toml:"throttle_free_failures"`
	// ThrottleBaseDelay is the first wait; it doubles with each further
	// failure up to ThrottleMaxDelay. Defaults 1s and 15m.
	ThrottleBaseDelay Duration `json:"throttle_base_delay,omitempty" toml:"throttle_base_delay"`
	ThrottleMaxDelay  Duration `json:"throttle_max_delay,omitempty" toml:"throttle_max_delay"`
	// LockoutFailures locks an account after this many consecutive failures
	// until an administrator unlocks it (`izwi users unlock`). 1..100, default 100.
	LockoutFailures int `json:"lockout_failures,omitempty" toml:"lockout_failures"`
	// SetupTokenTTL is how long the first-run setup token printed on the
	// console stays valid. Default 1h.
	SetupTokenTTL Duration `json:"setup_token_ttl,omitempty" toml:"setup_token_ttl"`
	// Argon2 parameters for new password hashes; at least m = 19456 KiB,
	// t = 2, p = 1. Defaults are exactly that minimum.
	Argon2MemoryKiB   int `json:"argon2_memory_kib,omitempty" toml:"argon2_memory_kib"`
	Argon2Iterations  int `json:"argon2_iterations,omitempty" toml:"argon2_iterations"`
	Argon2Parallelism int `json:"argon2_parallelism,omitempty" toml:"argon2_parallelism"`
	// RequireMFA makes every console user enrol a TOTP factor before using
	// anything but the enrolment page. Default false (izwi doctor warns).
	RequireMFA bool `json:"require_mfa,omitempty" toml:"require_mfa"`
}

// defaults fills empty fields with their defaults.
func (x Admin) defaults(c Config) Admin {
	setDur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	setInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	setDur(&x.SessionIdleTimeout, 30*time.Minute)
	setDur(&x.SessionAbsoluteTimeout, 12*time.Hour)
	setInt(&x.ThrottleFreeFailures, 5)
	setDur(&x.ThrottleBaseDelay, time.Second)
	setDur(&x.ThrottleMaxDelay, 15*time.Minute)
	setInt(&x.LockoutFailures, MaxLockoutFailures)
	setDur(&x.SetupTokenTTL, time.Hour)
	setInt(&x.Argon2MemoryKiB, MinArgon2MemoryKiB)
	setInt(&x.Argon2Iterations, MinArgon2Iterations)
	setInt(&x.Argon2Parallelism, MinArgon2Parallelism)
	return x
}

// validate reports every problem in x (after defaults).
func (x Admin) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: admin."+format, a...)) }
	if x.SessionIdleTimeout < 0 || x.SessionAbsoluteTimeout < 0 {
		bad("session timeouts must be positive")
	}
	if x.SessionIdleTimeout > x.SessionAbsoluteTimeout {
		bad("session_idle_timeout %v exceeds session_absolute_timeout %v", x.SessionIdleTimeout, x.SessionAbsoluteTimeout)
	}
	if x.ThrottleFreeFailures < 0 || x.ThrottleFreeFailures >= x.LockoutFailures {
		bad("throttle_free_failures %d: want 0 <= n < lockout_failures", x.ThrottleFreeFailures)
	}
	if x.ThrottleBaseDelay < 0 || x.ThrottleMaxDelay < x.ThrottleBaseDelay {
		bad("throttle_base_delay %v / throttle_max_delay %v: want 0 <= base <= max", x.ThrottleBaseDelay, x.ThrottleMaxDelay)
	}
	if x.LockoutFailures < 1 || x.LockoutFailures > MaxLockoutFailures {
		bad("lockout_failures %d: want 1..%d (NIST SP 800-63B)", x.LockoutFailures, MaxLockoutFailures)
	}
	if x.SetupTokenTTL < Duration(time.Minute) || x.SetupTokenTTL > Duration(24*time.Hour) {
		bad("setup_token_ttl %v: want 1m..24h", x.SetupTokenTTL)
	}
	if x.Argon2MemoryKiB < MinArgon2MemoryKiB || x.Argon2MemoryKiB > 4<<20 {
		bad("argon2_memory_kib %d: want %d..%d", x.Argon2MemoryKiB, MinArgon2MemoryKiB, 4<<20)
	}
	if x.Argon2Iterations < MinArgon2Iterations || x.Argon2Iterations > 100 {
		bad("argon2_iterations %d: want %d..100", x.Argon2Iterations, MinArgon2Iterations)
	}
	if x.Argon2Parallelism < MinArgon2Parallelism || x.Argon2Parallelism > 255 {
		bad("argon2_parallelism %d: want %d..255", x.Argon2Parallelism, MinArgon2Parallelism)
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Admin) applyEnv(e envReader) {
	e.Duration("IZWI_ADMIN_SESSION_IDLE_TIMEOUT", &x.SessionIdleTimeout)
	e.Duration("IZWI_ADMIN_SESSION_ABSOLUTE_TIMEOUT", &x.SessionAbsoluteTimeout)
	e.Int("IZWI_ADMIN_THROTTLE_FREE_FAILURES", &x.ThrottleFreeFailures)
	e.Duration("IZWI_ADMIN_THROTTLE_BASE_DELAY", &x.ThrottleBaseDelay)
	e.Duration("IZWI_ADMIN_THROTTLE_MAX_DELAY", &x.ThrottleMaxDelay)
	e.Int("IZWI_ADMIN_LOCKOUT_FAILURES", &x.LockoutFailures)
	e.Duration("IZWI_ADMIN_SETUP_TOKEN_TTL", &x.SetupTokenTTL)
	e.Int("IZWI_ADMIN_ARGON2_MEMORY_KIB", &x.Argon2MemoryKiB)
	e.Int("IZWI_ADMIN_ARGON2_ITERATIONS", &x.Argon2Iterations)
	e.Int("IZWI_ADMIN_ARGON2_PARALLELISM", &x.Argon2Parallelism)
	e.Bool("IZWI_ADMIN_REQUIRE_MFA", &x.RequireMFA)
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Admin) envVars() []string {
	return []string{"IZWI_ADMIN_SESSION_IDLE_TIMEOUT", "IZWI_ADMIN_SESSION_ABSOLUTE_TIMEOUT",
		"IZWI_ADMIN_THROTTLE_FREE_FAILURES", "IZWI_ADMIN_THROTTLE_BASE_DELAY", "IZWI_ADMIN_THROTTLE_MAX_DELAY",
		"IZWI_ADMIN_LOCKOUT_FAILURES", "IZWI_ADMIN_SETUP_TOKEN_TTL", "IZWI_ADMIN_ARGON2_MEMORY_KIB",
		"IZWI_ADMIN_ARGON2_ITERATIONS", "IZWI_ADMIN_ARGON2_PARALLELISM", "IZWI_ADMIN_REQUIRE_MFA"}
}
