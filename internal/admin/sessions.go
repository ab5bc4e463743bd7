package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// Session stages: "mfa" has passed the password and may only submit a
// second factor; "full" is logged in.
const (
	stageMFA  = "mfa"
	stageFull = "full"
	// mfaStageTTL bounds the time between password and code.
	mfaStageTTL = 5 * time.Minute
)

// ErrNoSession means the request carries no live session.
var ErrNoSession = errors.New("admin: no valid session")

// Session is a live login, found from its cookie token.
type Session struct {
	ID    string // public id, for audit; not the token
	Stage string
	User  User
	token string // the presented token, kept to derive the CSRF token
}

// CSRFToken is the session's anti-CSRF token, derived one-way from the
// session token so nothing else needs storing and it cannot reveal the token.
func (s Session) CSRFToken() string { return csrfFor(s.token) }

func csrfFor(token string) string {
	sum := sha256.Sum256([]byte("izwi-admin-csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkCSRF compares in constant time.
func (s Session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRFToken())) == 1
}

// createSession stores a new session for userID and returns its token.
func (s *Service) createSession(ctx context.Context, tx *store.Tx, userID, stage string) (token, id string, err error) {
	token, hash := newToken()
	id = newID()
	now := s.now().UnixNano()
	// Sweep sessions nobody presented again before they expired.
	if _, err := tx.ExecContext(ctx, "DELETE FROM admin_sessions WHERE last_seen < ? OR created_at < ?",
		now-int64(s.set.SessionIdle), now-int64(s.set.SessionAbsolute)); err != nil {
		return "", "", fmt.Errorf("admin: sweep sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO admin_sessions (token_hash, id, user_id, stage, created_at, last_seen)
		VALUES (?, ?, ?, ?, ?, ?)`, hash, id, userID, stage, now, now); err != nil {
		return "", "", fmt.Errorf("admin: create session: %w", err)
	}
	return token, id, nil
}

// Session returns the live session token names, refreshing its idle timer.
// Expired sessions (idle, absolute, or an unfinished MFA step) and those of
// disabled users are deleted and refused.
func (s *Service) Session(ctx context.Context, token string) (Session, error) {
	if len(token) != 64 {
		return Session{}, ErrNoSession
	}
	hash := hashToken(token)
	var sess Session
	var userID string
	var created, seen int64
	err := s.db.QueryRowContext(ctx, "SELECT id, user_id, stage, created_at, last_seen FROM admin_sessions WHERE token_hash = ?", hash).
		Scan(&sess.ID, &userID, &sess.Stage, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("admin: session: %w", err)
	}
	now := s.now()
	absolute := s.set.SessionAbsolute
	if sess.Stage == stageMFA {
		absolute = mfaStageTTL
	}
	u, err := s.userByID(ctx, s.db, userID)
	if err != nil || u.Disabled || now.Sub(time.Unix(0, seen)) > s.set.SessionIdle || now.Sub(time.Unix(0, created)) > absolute {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM admin_sessions WHERE token_hash = ?", hash); err != nil {
			return Session{}, fmt.Errorf("admin: expire session: %w", err)
		}
		return Session{}, ErrNoSession
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE admin_sessions SET last_seen = ? WHERE token_hash = ?", now.UnixNano(), hash); err != nil {
		return Session{}, fmt.Errorf("admin: touch session: %w", err)
	}
	sess.User, sess.token = u.User, token
	return sess, nil
}

// Logout ends sess server-side.
func (s *Service) Logout(ctx context.Context, sess Session, remoteIP string) error {
	ev := audit.Event{Actor: "user:" + sess.User.ID, Action: "user.logout", Target: "session:" + sess.ID, RemoteIP: remoteIP}
	return s.act(ctx, ev, func(tx *store.Tx) error { return dropToken(ctx, tx, sess.token) })
}

// RevokeSessions ends every session of name server-side (an incident
// response: a lost laptop, a suspected theft).
func (s *Service) RevokeSessions(ctx context.Context, actor, remoteIP, name string) error {
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	ev := audit.Event{Actor: actor, Action: "user.sessions_revoke", Target: "user:" + u.ID, RemoteIP: remoteIP}
	return s.act(ctx, ev, func(tx *store.Tx) error { return killSessions(ctx, tx, u.ID) })
}

// dropToken deletes a session by token, ignoring unknown ones (used to
// discard a pre-login cookie so a planted session id cannot survive login).
func dropToken(ctx context.Context, tx *store.Tx, token string) error {
	if token == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM admin_sessions WHERE token_hash = ?", hashToken(token))
	return err
}

// killSessions ends every session of userID server-side.
func killSessions(ctx context.Context, tx *store.Tx, userID string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM admin_sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("admin: end sessions: %w", err)
	}
	return nil
}

// SessionCount returns how many sessions userID has (for tests and the dashboard).
func (s *Service) SessionCount(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM admin_sessions WHERE user_id = ?", userID).Scan(&n)
	return n, err
}
