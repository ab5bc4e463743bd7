package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
)

// Role is what a console user may do: admins manage users and keys;
// operators see the dashboard and manage their own account.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleAdmin, RoleOperator:
		return Role(s), nil
	}
	return "", fmt.Errorf("admin: unknown role %q: want admin or operator", s)
}

// User is a console account, without its secrets.
type User struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Disabled bool      `json:"disabled"`
	MFA      bool      `json:"mfa"`
	Created  time.Time `json:"created"`
}

// Errors callers switch on. Their messages are safe to show.
var (
	ErrNotFound   = errors.New("admin: no such user")
	ErrExists     = errors.New("admin: a user with that name exists")
	ErrBadName    = errors.New("admin: a user name is 1 to 64 characters of a-z, 0-9, '.', '_' or '-'")
	ErrLastAdmin  = errors.New("admin: refusing to disable or demote the last active admin")
	ErrBadRequest = errors.New("admin: invalid request")
)

// normalizeName lowercases and checks a user name.
func normalizeName(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || len(name) > 64 {
		return "", ErrBadName
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", ErrBadName
		}
	}
	return name, nil
}

// userRow is a user with its secrets, for internal use only.
type userRow struct {
	User
	hash        string
	totp        []byte
	totpPending []byte
	lastStep    int64
	recoveryKey []byte // sealed; nil for codes hashed before the vault
}

const userCols = `id, name, role, password_hash, disabled, totp_secret, totp_pending, totp_last_step, created_at, recovery_key`

// scanner is a row to scan (*sql.Row or *sql.Rows).
type scanner interface{ Scan(...any) error }

var (
	_ scanner = (*sql.Row)(nil)
	_ scanner = (*sql.Rows)(nil)
)

func scanUser(row scanner) (userRow, error) {
	var u userRow
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Role, &u.hash, &u.Disabled, &u.totp, &u.totpPending, &u.lastStep, &created, &u.recoveryKey)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	u.Created = time.Unix(0, created).UTC()
	u.MFA = len(u.totp) > 0
	return u, err
}

// querier reads one row, in or out of a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

var (
	_ querier = (*store.Store)(nil)
	_ querier = (*store.Tx)(nil)
)

func (s *Service) userByName(ctx context.Context, q querier, name string) (userRow, error) {
	return scanUser(q.QueryRowContext(ctx, "SELECT "+userCols+" FROM admin_users WHERE name = ?", name))
}

func (s *Service) userByID(ctx context.Context, q querier, id string) (userRow, error) {
	return scanUser(q.QueryRowContext(ctx, "SELECT "+userCols+" FROM admin_users WHERE id = ?", id))
}

// Users lists every user, by name.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userCols+" FROM admin_users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("admin: list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("admin: list users: %w", err)
		}
		out = append(out, u.User)
	}
	return out, rows.Err()
}

// CheckPassword applies the password policy without storing anything.
func (s *Service) CheckPassword(pw, name string) error {
	return s.block.checkPassword(normalizePassword(pw), name)
}

// CreateUser adds a user. actor is the audit actor ("user:<id>", "system:cli").
func (s *Service) CreateUser(ctx context.Context, actor, remoteIP, name string, role Role, password string) (User, error) {
	name, err := normalizeName(name)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	password = normalizePassword(password)
	if err := s.block.checkPassword(password, name); err != nil {
		return User{}, err
	}
	if _, err := s.userByName(ctx, s.db, name); err == nil {
		return User{}, ErrExists
	}
	now := s.now()
	u := User{ID: newID(), Name: name, Role: role, Created: now.UTC()}
	hash := hashPassword(password, s.set.Params)
	ev := audit.Event{Actor: actor, Action: "user.create", Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"role": string(role)}}
	return u, s.act(ctx, ev, func(tx *store.Tx) error {
		if _, err := s.userByName(ctx, tx, name); err == nil {
			return ErrExists
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_users (id, name, role, password_hash, created_at, password_changed_at)
			VALUES (?, ?, ?, ?, ?, ?)`, u.ID, u.Name, u.Role, hash, now.UnixNano(), now.UnixNano())
		return err
	})
}

// act records ev in the audit log and only then applies fn in a
// transaction: an action that cannot be audited does not happen. The audit
// write comes first and outside the transaction because the recorder may
// share the database (SQLite has one writer). If fn then fails, an "error"
// event follows, best effort.
func (s *Service) act(ctx context.Context, ev audit.Event, fn func(*store.Tx) error) error {
	if err := s.record(ctx, ev); err != nil {
		return err
	}
	if err := s.inTx(ctx, fn); err != nil {
		ev.Outcome, ev.Time = "error", time.Time{}
		_ = s.record(ctx, ev)
		return err
	}
	return nil
}

// inTx runs fn in a transaction (SQLite: one writer, so it is serial).
func (s *Service) inTx(ctx context.Context, fn func(*store.Tx) error) error {
	return s.db.Tx(ctx, fn)
}

// activeAdmins counts enabled admins other than exceptID.
func activeAdmins(ctx context.Context, tx *store.Tx, exceptID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM admin_users WHERE role = 'admin' AND disabled = 0 AND id != ?", exceptID).Scan(&n)
	return n, err
}

// keepAnAdmin refuses a change that would leave no active admin.
func keepAnAdmin(ctx context.Context, tx *store.Tx, u userRow) error {
	if u.Role != RoleAdmin || u.Disabled {
		return nil
	}
	// Two admins disabling each other at once on PostgreSQL must not both
	// see the other still active.
	if err := tx.Lock(ctx, "admin-users"); err != nil {
		return err
	}
	n, err := activeAdmins(ctx, tx, u.ID)
	if err != nil {
		return fmt.Errorf("admin: count admins: %w", err)
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// SetDisabled disables (killing every session of) or re-enables a user.
func (s *Service) SetDisabled(ctx context.Context, actor, remoteIP, name string, disabled bool) error {
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	ev := audit.Event{Actor: actor, Action: action, Target: "user:" + u.ID, RemoteIP: remoteIP}
	return s.act(ctx, ev, func(tx *store.Tx) error {
		if disabled {
			if err := keepAnAdmin(ctx, tx, u); err != nil {
				return err
			}
			if err := killSessions(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "UPDATE admin_users SET disabled = ? WHERE id = ?", disabled, u.ID)
		return err
	})
}

// SetRole changes a user's role and ends their sessions so no page keeps
// old rights; the last active admin cannot be demoted.
func (s *Service) SetRole(ctx context.Context, actor, remoteIP, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	ev := audit.Event{Actor: actor, Action: "user.role", Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"from": string(u.Role), "to": string(role)}}
	return s.act(ctx, ev, func(tx *store.Tx) error {
		if role != RoleAdmin {
			if err := keepAnAdmin(ctx, tx, u); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE admin_users SET role = ? WHERE id = ?", role, u.ID); err != nil {
			return err
		}
		return killSessions(ctx, tx, u.ID)
	})
}

// ResetPassword sets a new password for name (an administrator's reset),
// clears its lockout and ends its sessions. MFA stays enrolled: a reset
// never bypasses the second factor.
func (s *Service) ResetPassword(ctx context.Context, actor, remoteIP, name, password string) error {
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	return s.setPassword(ctx, actor, remoteIP, u, password, "user.password_reset")
}

func (s *Service) setPassword(ctx context.Context, actor, remoteIP string, u userRow, password, action string) error {
	password = normalizePassword(password)
	if err := s.block.checkPassword(password, u.Name); err != nil {
		return err
	}
	hash := hashPassword(password, s.set.Params)
	now := s.now()
	ev := audit.Event{Actor: actor, Action: action, Target: "user:" + u.ID, RemoteIP: remoteIP,
		Details: map[string]string{"mfa_kept": fmt.Sprint(len(u.totp) > 0)}}
	return s.act(ctx, ev, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE admin_users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
			hash, now.UnixNano(), u.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", nameKey(u.Name)); err != nil {
			return err
		}
		return killSessions(ctx, tx, u.ID)
	})
}

// Unlock clears an account's failed-login counter.
func (s *Service) Unlock(ctx context.Context, actor, remoteIP, name string) error {
	u, err := s.userByName(ctx, s.db, strings.ToLower(name))
	if err != nil {
		return err
	}
	ev := audit.Event{Actor: actor, Action: "user.unlock", Target: "user:" + u.ID, RemoteIP: remoteIP}
	return s.act(ctx, ev, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM admin_login_failures WHERE name_key = ?", nameKey(u.Name))
		return err
	})
}
