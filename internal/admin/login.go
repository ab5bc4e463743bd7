package admin

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// ErrInvalidLogin is the one answer to a wrong name, a wrong password, a
// disabled account or a wrong second factor, so none can be told apart.
var ErrInvalidLogin = errors.New("admin: invalid user name, password or code")

// ThrottleError refuses an attempt made too soon after failures, or on a
// locked account. It is the same for existing and unknown names.
type ThrottleError struct {
	Wait   time.Duration // how long until the next attempt is accepted
	Locked bool          // locked until an administrator unlocks it
}

func (e *ThrottleError) Error() string {
	if e.Locked {
		return "admin: too many failed attempts; the account is locked until an administrator unlocks it"
	}
	return fmt.Sprintf("admin: too many failed attempts; try again in %s", e.Wait.Round(time.Second))
}

// LoginResult is a successful password (or second-factor) step.
type LoginResult struct {
	Token string // the new session token: goes only into the cookie
	Stage string // "mfa": submit a code next; "full": logged in
	User  User
}

// nameKey is how failure counters are keyed: by the name typed, whether or
// not such a user exists (so unknown names are throttled identically), and
// hashed, so a password typed into the name field is not stored.
func nameKey(name string) string {
	sum := sha256.Sum256([]byte("izwi-admin-login\x00" + strings.ToLower(strings.TrimSpace(name))))
	return hex.EncodeToString(sum[:])
}

// delay is the wait imposed after n consecutive failures.
func (s *Service) delay(n int) time.Duration {
	if n < s.set.ThrottleFree {
		return 0
	}
	d := s.set.ThrottleBase
	for i := s.set.ThrottleFree; i < n && d < s.set.ThrottleMax; i++ {
		d *= 2
	}
	return min(d, s.set.ThrottleMax)
}

// reserveAttempt atomically checks the name's counter and counts this
// attempt as a failure up front (a success clears it), so parallel guesses
// cannot slip past the limit between check and update.
func (s *Service) reserveAttempt(ctx context.Context, key string) (int, error) {
	var failures int
	err := s.inTx(ctx, func(tx *store.Tx) error {
		// Processes sharing a PostgreSQL database take turns per name.
		if err := tx.Lock(ctx, "admin-login:"+key); err != nil {
			return err
		}
		var last int64
		err := tx.QueryRowContext(ctx, "SELECT failures, last_failure FROM admin_login_failures WHERE name_key = ?", key).Scan(&failures, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("admin: failures: %w", err)
		}
		now := s.now()
		if failures >= s.set.LockoutFailures {
			return &ThrottleError{Locked: true}
		}
		if wait := s.delay(failures) - now.Sub(time.Unix(0, last)); failures > 0 && wait > 0 {
			return &ThrottleError{Wait: wait}
		}
		failures++
		_, err = tx.ExecContext(ctx, `INSERT INTO admin_login_failures (name_key, failures, last_failure) VALUES (?, 1, ?)
			ON CONFLICT (name_key) DO UPDATE SET failures = admin_login_failures.failures + 1, last_failure = excluded.last_failure`, key, now.UnixNano())
		return err
	})
	return failures, err
}

// fail audits a refused attempt (and the lockout it may cause) and returns
// the error the caller shows.
func (s *Service) fail(ctx context.Context, remoteIP, target, reason string, failures int, shown error) error {
	ev := audit.Event{Actor: "anonymous", Action: "auth.failure", Target: target, Outcome: "denied", RemoteIP: remoteIP,
		Details: map[string]string{"reason": reason, "console": "admin"}}
	if err := s.record(ctx, ev); err != nil {
		return err
	}
	if failures == s.set.LockoutFailures {
		ev.Action, ev.Details = "user.lockout", map[string]string{"failures": fmt.Sprint(failures)}
		if err := s.record(ctx, ev); err != nil {
			return err
		}
		s.log.Warn("admin: account locked after consecutive failures", "target", target, "failures", failures)
	}
	return shown
}

// Login checks a name and password. Unknown names cost one argon2id hash
// like known ones. oldToken is any session cookie the browser sent: it is
// discarded so a planted session id never becomes a logged-in one.
func (s *Service) Login(ctx context.Context, name, password, remoteIP, oldToken string) (LoginResult, error) {
	key := nameKey(name)
	target := "name:" + key[:16]
	failures, err := s.reserveAttempt(ctx, key)
	var te *ThrottleError
	if errors.As(err, &te) {
		reason := "throttled"
		if te.Locked {
			reason = "locked"
		}
		return LoginResult{}, s.fail(ctx, remoteIP, target, reason, 0, err)
	}
	if err != nil {
		return LoginResult{}, err
	}
	password = normalizePassword(password)
	// A password longer than any the policy allows cannot match; it still
	// costs one hash of a bounded prefix, never a truncated comparison.
	tooLong := utf8.RuneCountInString(password) > MaxPasswordLen
	if tooLong {
		password = password[:MaxPasswordLen]
	}
	nm, nerr := normalizeName(name)
	u, uerr := s.userByName(ctx, s.db, nm)
	if nerr != nil || uerr != nil || tooLong {
		verifyPassword(password, s.dummy)
		if uerr != nil && nerr == nil && !errors.Is(uerr, ErrNotFound) {
			return LoginResult{}, uerr
		}
		reason := "unknown_user"
		if uerr == nil {
			reason, target = "bad_password", "user:"+u.ID
		}
		return LoginResult{}, s.fail(ctx, remoteIP, target, reason, failures, ErrInvalidLogin)
	}
	target = "user:" + u.ID
	ok, params, err := verifyPassword(password, u.hash)
	switch {
	case err != nil:
		s.log.Error("admin: stored password hash unreadable", "user", u.ID)
		return LoginResult{}, s.fail(ctx, remoteIP, target, "bad_hash", failures, ErrInvalidLogin)
	case !ok:
		return LoginResult{}, s.fail(ctx, remoteIP, target, "bad_password", failures, ErrInvalidLogin)
	case u.Disabled:
		return LoginResult{}, s.fail(ctx, remoteIP, target, "disabled", failures, ErrInvalidLogin)
	}
	rehash := ""
	if params != s.set.Params {
		rehash = hashPassword(password, s.set.Params) // keep hashes at the configured cost
	}
	stage, action := stageFull, "user.login"
	if u.MFA {
		stage, action = stageMFA, "user.login_password"
	}
	res := LoginResult{Stage: stage, User: u.User}
	ev := audit.Event{Actor: "user:" + u.ID, Action: action, Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"factors": "password"}}
	err = s.act(ctx, ev, func(tx *store.Tx) error {
		if rehash != "" {
			if _, err := tx.ExecContext(ctx, "UPDATE admin_users SET password_hash = ? WHERE id = ?", rehash, u.ID); err != nil {
				return err
			}
		}
		if err := dropToken(ctx, tx, oldToken); err != nil {
			return err
		}
		if stage == stageFull {
			if _, err := tx.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", key); err != nil {
				return err
			}
		}
		var err error
		res.Token, _, err = s.createSession(ctx, tx, u.ID, stage)
		return err
	})
	return res, err
}

// LoginMFA completes a login in the "mfa" stage with a TOTP code or a
// recovery code. It counts against the same throttle as passwords and
// replaces the pending session with a new full one.
func (s *Service) LoginMFA(ctx context.Context, sess Session, code, recovery, remoteIP string) (LoginResult, error) {
	if sess.Stage != stageMFA {
		return LoginResult{}, ErrNoSession
	}
	key := nameKey(sess.User.Name)
	target := "user:" + sess.User.ID
	failures, err := s.reserveAttempt(ctx, key)
	var te *ThrottleError
	if errors.As(err, &te) {
		return LoginResult{}, s.fail(ctx, remoteIP, target, "throttled", 0, err)
	}
	if err != nil {
		return LoginResult{}, err
	}
	method := "totp"
	if recovery != "" {
		method = "recovery_code"
	}
	ok, err := s.checkSecondFactor(ctx, sess.User.ID, code, recovery)
	if err != nil {
		return LoginResult{}, err
	}
	if !ok {
		return LoginResult{}, s.fail(ctx, remoteIP, target, "bad_"+method, failures, ErrInvalidLogin)
	}
	res := LoginResult{Stage: stageFull, User: sess.User}
	ev := audit.Event{Actor: target, Action: "user.login", Target: target, RemoteIP: remoteIP,
		Details: map[string]string{"factors": "password+" + method}}
	err = s.act(ctx, ev, func(tx *store.Tx) error {
		if err := dropToken(ctx, tx, sess.token); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", key); err != nil {
			return err
		}
		var err error
		res.Token, _, err = s.createSession(ctx, tx, sess.User.ID, stageFull)
		return err
	})
	return res, err
}
