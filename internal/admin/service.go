// Package admin owns the admin console: its own HTTP listener (loopback by
// default) with a route table where every route declares its access, the
// console's users (roles admin and operator, argon2id passwords under NIST
// SP 800-63B rules, login throttling and lockout), server-side sessions
// with CSRF protection, TOTP MFA with recovery codes, and the first-run
// setup guarded by a one-time token printed on the console. Every login,
// lockout, setup and user or MFA change is written to the audit log first;
// if that fails, the action does not happen. Only cmd/izwi imports it.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/store"
)

// Settings are the console's tunables (config section [admin]).
type Settings struct {
	SessionIdle, SessionAbsolute time.Duration
	ThrottleFree                 int
	ThrottleBase, ThrottleMax    time.Duration
	LockoutFailures              int
	SetupTokenTTL                time.Duration
	Params                       Params
	// RequireMFA confines users without a TOTP factor to enrolling one.
	RequireMFA bool
}

// SettingsFrom converts the validated config section.
func SettingsFrom(c config.Admin) Settings {
	return Settings{
		SessionIdle: time.Duration(c.SessionIdleTimeout), SessionAbsolute: time.Duration(c.SessionAbsoluteTimeout),
		ThrottleFree: c.ThrottleFreeFailures, ThrottleBase: time.Duration(c.ThrottleBaseDelay),
		ThrottleMax: time.Duration(c.ThrottleMaxDelay), LockoutFailures: c.LockoutFailures,
		SetupTokenTTL: time.Duration(c.SetupTokenTTL),
		Params: Params{MemoryKiB: uint32(c.Argon2MemoryKiB), Iterations: uint32(c.Argon2Iterations),
			Parallelism: uint8(c.Argon2Parallelism)},
		RequireMFA: c.RequireMFA,
	}
}

// Options are the console's dependencies.
type Options struct {
	Store *store.Store
	// Audit receives every security-relevant action; required.
	Audit    audit.Recorder
	Logger   *slog.Logger
	Settings Settings
	// Console receives the one-time setup token line (stderr in izwi serve).
	Console io.Writer
	// Now is the clock (tests pass a fake one); nil means time.Now.
	Now func() time.Time
	// InsecureTestParams lets tests hash with argon2 parameters below the
	// production minimum. Never set outside tests.
	InsecureTestParams bool
	// Routes are extra routes mounted on the console (the keys slice's
	// handlers); each declares its Access like the console's own.
	Routes []Route
	// TLS describes the server certificate, shown to administrators so they
	// can check the fingerprint clients see (a self-signed one above all).
	TLS TLSStatus
	// Live mounts the session pages (nil: none).
	Live *LivePages
	// Ops mounts the keys, audit, health and settings pages (nil: none).
	Ops *OpsPages
	// Vault seals users' TOTP secrets at rest (class "credential") and
	// shreds them when a factor is removed; plaintext secrets left by an
	// earlier version are sealed at start. Nil stores them in the clear
	// (tests and tools not yet wired to the vault) and logs a warning.
	Vault Vault
}

// TLSStatus is the server certificate as the dashboard shows it.
type TLSStatus struct {
	Mode        string    // "off", "files", "self_signed" or "acme"
	Fingerprint string    // SHA-256 of the leaf, as openssl prints it; "" if none
	NotAfter    time.Time // zero if unknown
}

// Service is the console's core: users, passwords, sessions, MFA, setup.
// The HTTP Server and `izwi users` both use it. Safe for concurrent use.
type Service struct {
	db       *store.Store
	rec      audit.Recorder
	log      *slog.Logger
	set      Settings
	now      func() time.Time
	block    blocklist
	dummy    string // hash of a random password: unknown users cost the same
	console  io.Writer
	setupURL string
	vault    Vault
}

// NewService migrates the admin tables and returns the core service.
func NewService(ctx context.Context, opts Options) (*Service, error) {
	if opts.Store == nil || opts.Audit == nil {
		return nil, errors.New("admin: a store and an audit recorder are required")
	}
	set := opts.Settings
	if set.Params == (Params{}) {
		set.Params = MinParams()
	}
	if set.Params.weakerThan(MinParams()) && !opts.InsecureTestParams {
		return nil, fmt.Errorf("admin: argon2id parameters m=%d,t=%d,p=%d are below the minimum m=19456,t=2,p=1",
			set.Params.MemoryKiB, set.Params.Iterations, set.Params.Parallelism)
	}
	def := SettingsFrom(config.Config{}.Defaults().Admin)
	if set.SessionIdle <= 0 {
		set.SessionIdle = def.SessionIdle
	}
	if set.SessionAbsolute <= 0 {
		set.SessionAbsolute = def.SessionAbsolute
	}
	if set.LockoutFailures <= 0 || set.LockoutFailures > config.MaxLockoutFailures {
		set.LockoutFailures = def.LockoutFailures
	}
	if set.ThrottleMax <= 0 {
		set.ThrottleMax = def.ThrottleMax
	}
	if set.SetupTokenTTL <= 0 {
		set.SetupTokenTTL = def.SetupTokenTTL
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s := &Service{db: opts.Store, rec: opts.Audit, log: opts.Logger, set: set, now: opts.Now,
		block: loadBlocklist(), console: opts.Console, vault: opts.Vault}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.vault == nil {
		s.log.Warn("admin: no privacy vault configured; TOTP secrets are stored unencrypted")
	}
	if err := s.sealLegacySecrets(ctx); err != nil {
		return nil, err
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.console == nil {
		s.console = io.Discard
	}
	s.dummy = hashPassword(rand.Text(), set.Params)
	return s, nil
}

// record writes e to the audit log, stamping the time. Its error must
// stop the action being audited.
func (s *Service) record(ctx context.Context, e audit.Event) error {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	if err := s.rec.Record(ctx, e); err != nil {
		s.log.Error("admin: audit write failed; action refused", "action", e.Action, "err", err)
		return fmt.Errorf("admin: audit: %w", err)
	}
	return nil
}

// newToken returns 256 random bits, URL-safe, and its storage hash.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	return token, hashToken(token)
}

// hashToken is how high-entropy secrets (session and setup tokens, recovery
// codes) are stored: SHA-256 suffices for 128+ random bits; passwords get argon2id.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte("izwi-admin\x00" + token))
	return hex.EncodeToString(sum[:])
}

// newID returns a short random public identifier.
func newID() string {
	b := make([]byte, 9)
	rand.Read(b)
	return hex.EncodeToString(b)
}
