package admin

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// ErrSetupDone refuses /setup once any user exists; ErrSetupToken is a
// wrong, used or expired setup token.
var (
	ErrSetupDone  = errors.New("admin: setup is already complete")
	ErrSetupToken = errors.New("admin: the setup token is wrong, used or expired; restart izwi serve for a new one")
)

// NeedsSetup reports whether no user exists yet.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM admin_users").Scan(&n); err != nil {
		return false, fmt.Errorf("admin: count users: %w", err)
	}
	return n == 0, nil
}

// IssueSetupToken makes a fresh one-time setup token when no user exists
// (there is no default account) and prints it on the console only: one
// line on opts.Console (stderr), never in the JSON log. It is stored hashed,
// expires after Settings.SetupTokenTTL and replaces any earlier one.
// consoleURL is the admin listener's address for the message.
func (s *Service) IssueSetupToken(ctx context.Context, consoleURL string) (bool, error) {
	need, err := s.NeedsSetup(ctx)
	if err != nil || !need {
		return false, err
	}
	token, hash := newToken()
	expires := s.now().Add(s.set.SetupTokenTTL)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO admin_setup (id, token_hash, expires_at, used) VALUES (1, ?, ?, 0)
		ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at, used = 0`,
		hash, expires.UnixNano()); err != nil {
		return false, fmt.Errorf("admin: store setup token: %w", err)
	}
	if err := s.record(ctx, audit.Event{Actor: "system", Action: "setup.token_issued", Target: "setup"}); err != nil {
		return false, err
	}
	s.log.Warn("admin: no admin user yet; open the console's /setup page with the one-time setup token printed on stderr",
		"url", consoleURL+"/setup", "expires", expires.UTC())
	fmt.Fprintf(s.console, "izwi: first-run setup: open %s/setup and enter this one-time token (valid until %s): %s\n",
		consoleURL, expires.UTC().Format("2006-01-02 15:04:05Z"), token)
	return true, nil
}

// Setup creates the first admin with the one-time token and logs them in.
// The token is compared in constant time and consumed in the same
// transaction that creates the user, so two racing requests cannot both
// succeed, and it is refused once any user exists.
func (s *Service) Setup(ctx context.Context, token, name, password, remoteIP string) (LoginResult, error) {
	name, err := normalizeName(name)
	if err != nil {
		return LoginResult{}, err
	}
	password = normalizePassword(password)
	if err := s.block.checkPassword(password, name); err != nil {
		return LoginResult{}, err
	}
	deny := func(reason string, shown error) (LoginResult, error) {
		if err := s.record(ctx, audit.Event{Actor: "anonymous", Action: "setup", Target: "setup", Outcome: "denied",
			RemoteIP: remoteIP, Details: map[string]string{"reason": reason}}); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, shown
	}
	if err := s.checkSetupToken(ctx, s.db, token); err != nil {
		if errors.Is(err, ErrSetupDone) {
			return deny("already_done", err)
		}
		if errors.Is(err, ErrSetupToken) {
			return deny("bad_token", err)
		}
		return LoginResult{}, err
	}
	hash := hashPassword(password, s.set.Params)
	now := s.now()
	u := User{ID: newID(), Name: name, Role: RoleAdmin, Created: now.UTC()}
	res := LoginResult{Stage: stageFull, User: u}
	ev := audit.Event{Actor: "user:" + u.ID, Action: "setup", Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"role": string(RoleAdmin)}}
	err = s.act(ctx, ev, func(tx *store.Tx) error {
		if err := s.checkSetupToken(ctx, tx, token); err != nil {
			return err
		}
		// Consume: only one transaction can flip used from 0 to 1.
		r, err := tx.ExecContext(ctx, "UPDATE admin_setup SET used = 1 WHERE id = 1 AND used = 0")
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return ErrSetupToken
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_users (id, name, role, password_hash, created_at, password_changed_at)
			VALUES (?, ?, 'admin', ?, ?, ?)`, u.ID, u.Name, hash, now.UnixNano(), now.UnixNano()); err != nil {
			return err
		}
		res.Token, _, err = s.createSession(ctx, tx, u.ID, stageFull)
		return err
	})
	return res, err
}

// checkSetupToken verifies token against the stored hash in constant time.
func (s *Service) checkSetupToken(ctx context.Context, q querier, token string) error {
	var users int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM admin_users").Scan(&users); err != nil {
		return fmt.Errorf("admin: count users: %w", err)
	}
	if users > 0 {
		return ErrSetupDone
	}
	var stored string
	var expires int64
	var used bool
	err := q.QueryRowContext(ctx, "SELECT token_hash, expires_at, used FROM admin_setup WHERE id = 1").Scan(&stored, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrSetupToken
	}
	if err != nil {
		return fmt.Errorf("admin: setup token: %w", err)
	}
	match := subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(stored)) == 1
	if !match || used || s.now().UnixNano() >= expires {
		return ErrSetupToken
	}
	return nil
}
