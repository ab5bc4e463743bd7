package admin

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// recoveryCodes is how many single-use recovery codes an enrolment makes.
const recoveryCodes = 10

// ErrReauth means the current password (or code) given to confirm a
// sensitive change was wrong.
var ErrReauth = errors.New("admin: re-authentication failed: the current password or code is wrong")

// ErrMFAState is a factor operation that does not fit the user's state
// (confirming with nothing pending, enrolling twice).
var ErrMFAState = errors.New("admin: no matching MFA enrolment in progress")

// Enrolment is what the user needs to add Izwi to an authenticator app.
// It is shown once, on the enrolment page, and never logged.
type Enrolment struct {
	Secret string `json:"secret"`  // base32, for manual entry
	URI    string `json:"uri"`     // otpauth://totp/...
	QRCode string `json:"qr_code"` // data:image/png;base64,...
}

// reauth checks the current password of userID (and, when a TOTP factor is
// enrolled and requireCode is set, a fresh code), through the throttle.
func (s *Service) reauth(ctx context.Context, userID, password, code string, requireCode bool, remoteIP string) (userRow, error) {
	u, err := s.userByID(ctx, s.db, userID)
	if err != nil {
		return u, err
	}
	key := nameKey(u.Name)
	failures, err := s.reserveAttempt(ctx, key)
	if err != nil {
		return u, err
	}
	ok, _, err := verifyPassword(normalizePassword(password), u.hash)
	if err == nil && ok && requireCode && u.MFA {
		ok, err = s.checkSecondFactor(ctx, u.ID, code, "")
	}
	if err != nil {
		return u, err
	}
	if !ok {
		return u, s.fail(ctx, remoteIP, "user:"+u.ID, "bad_reauth", failures, ErrReauth)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", key); err != nil {
		return u, fmt.Errorf("admin: clear failures: %w", err)
	}
	return u, nil
}

// checkSecondFactor verifies a TOTP code (each time step accepted once:
// the step is consumed atomically) or consumes a recovery code.
func (s *Service) checkSecondFactor(ctx context.Context, userID, code, recovery string) (bool, error) {
	u, err := s.userByID(ctx, s.db, userID)
	if err != nil || !u.MFA {
		return false, err
	}
	if recovery != "" {
		key, err := s.recoveryKeyOf(ctx, u)
		if err != nil {
			return false, err
		}
		res, err := s.db.ExecContext(ctx, "UPDATE admin_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
			s.now().UnixNano(), userID, recoveryHash(key, recovery))
		if err != nil {
			return false, fmt.Errorf("admin: recovery code: %w", err)
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	secret, err := s.openTOTP(ctx, userID, u.totp)
	if err != nil {
		return false, err
	}
	step, ok := checkTOTP(secret, strings.TrimSpace(code), s.now(), u.lastStep)
	if !ok {
		return false, nil
	}
	// Only the request that moves last_step forward wins: a replay of the
	// same code, even a concurrent one, matches no row.
	res, err := s.db.ExecContext(ctx, "UPDATE admin_users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", step, userID, step)
	if err != nil {
		return false, fmt.Errorf("admin: totp step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// normalizeRecovery lets users type recovery codes with any case, spaces or dashes.
func normalizeRecovery(c string) string {
	c = strings.ToUpper(c)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, c)
}

// BeginEnroll starts TOTP enrolment after re-authentication with the
// current password. The factor becomes active only when ConfirmEnroll sees
// a first valid code.
func (s *Service) BeginEnroll(ctx context.Context, userID, password, remoteIP string) (Enrolment, error) {
	u, err := s.reauth(ctx, userID, password, "", false, remoteIP)
	if err != nil {
		return Enrolment{}, err
	}
	if u.MFA {
		return Enrolment{}, fmt.Errorf("%w: a factor is already enrolled; revoke it first", ErrMFAState)
	}
	secret := newTOTPSecret()
	uri := otpauthURI(u.Name, secret)
	qr, err := qrDataURL(uri)
	if err != nil {
		return Enrolment{}, err
	}
	sealed, err := s.sealTOTP(ctx, u.ID, secret) // before the transaction: the vault needs the connection
	if err != nil {
		return Enrolment{}, err
	}
	ev := audit.Event{Actor: "user:" + u.ID, Action: "mfa.enroll_start", Target: "user:" + u.ID, RemoteIP: remoteIP}
	err = s.act(ctx, ev, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE admin_users SET totp_pending = ? WHERE id = ?", sealed, u.ID)
		return err
	})
	return Enrolment{Secret: b32(secret), URI: uri, QRCode: qr}, err
}

// ConfirmEnroll activates the pending factor when code is valid for it and
// returns 10 fresh single-use recovery codes (stored hashed; shown once).
func (s *Service) ConfirmEnroll(ctx context.Context, userID, code, remoteIP string) ([]string, error) {
	u, err := s.userByID(ctx, s.db, userID)
	if err != nil {
		return nil, err
	}
	if len(u.totpPending) == 0 || u.MFA {
		return nil, ErrMFAState
	}
	key := nameKey(u.Name)
	failures, err := s.reserveAttempt(ctx, key)
	if err != nil {
		return nil, err
	}
	pending, err := s.openTOTP(ctx, u.ID, u.totpPending)
	if err != nil {
		return nil, err
	}
	step, ok := checkTOTP(pending, strings.TrimSpace(code), s.now(), -1)
	if !ok {
		return nil, s.fail(ctx, remoteIP, "user:"+u.ID, "bad_totp_enroll", failures, ErrReauth)
	}
	rkey, rsealed, err := s.newRecoveryKey(ctx, u.ID) // before the transaction: the vault needs the connection
	if err != nil {
		return nil, err
	}
	codes := make([]string, recoveryCodes)
	for i := range codes {
		b := make([]byte, 10) // 80 bits
		rand.Read(b)
		c := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
		codes[i] = c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:]
	}
	ev := audit.Event{Actor: "user:" + u.ID, Action: "mfa.enroll", Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"factor": "totp", "recovery_codes": fmt.Sprint(recoveryCodes)}}
	err = s.act(ctx, ev, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE admin_users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?,
			recovery_key = ? WHERE id = ? AND totp_pending IS NOT NULL`, step, rsealed, u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_recovery_codes WHERE user_id = ?", u.ID); err != nil {
			return err
		}
		for _, c := range codes {
			if _, err := tx.ExecContext(ctx, "INSERT INTO admin_recovery_codes (user_id, code_hash) VALUES (?, ?)",
				u.ID, recoveryHash(rkey, c)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// RevokeMFA removes the user's factor and recovery codes after
// re-authentication with the current password and a current code.
func (s *Service) RevokeMFA(ctx context.Context, userID, password, code, remoteIP string) error {
	u, err := s.reauth(ctx, userID, password, code, true, remoteIP)
	if err != nil {
		return err
	}
	return s.revokeMFA(ctx, "user:"+u.ID, remoteIP, u)
}

// AdminRevokeMFA removes name's factor on an administrator's authority
// (the user lost the device and every recovery code). It also ends the
// user's sessions. Used by `izwi users reset-mfa`, never by a password reset.
func (s *Service) AdminRevokeMFA(ctx context.Context, actor, remoteIP, name string) error {
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	return s.revokeMFA(ctx, actor, remoteIP, u)
}

func (s *Service) revokeMFA(ctx context.Context, actor, remoteIP string, u userRow) error {
	ev := audit.Event{Actor: actor, Action: "mfa.revoke", Target: "user:" + u.ID, RemoteIP: remoteIP}
	err := s.act(ctx, ev, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE admin_users SET totp_secret = NULL, totp_pending = NULL, recovery_key = NULL WHERE id = ?", u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_recovery_codes WHERE user_id = ?", u.ID); err != nil {
			return err
		}
		return killSessions(ctx, tx, u.ID)
	})
	if err == nil {
		s.shredCredentials(ctx, actor, u.ID)
	}
	return err
}

// ChangePassword replaces the user's own password after re-authentication
// (current password, and a code when MFA is enrolled). Every session of the
// user ends; the caller logs in again.
func (s *Service) ChangePassword(ctx context.Context, userID, current, code, next, remoteIP string) error {
	u, err := s.reauth(ctx, userID, current, code, true, remoteIP)
	if err != nil {
		return err
	}
	return s.setPassword(ctx, "user:"+u.ID, remoteIP, u, next, "user.password_change")
}
