package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Vault is the privacy vault as the console uses it: each user's TOTP seed
// is sealed (class "credential") under a data key of that user, and
// revoking the factor shreds the key. *vault.Keyring implements it.
//
// Contract: as vault.Keyring. The console calls it only outside its own
// transactions: the store has one connection, which a transaction holds.
type Vault interface {
	Key(ctx context.Context, class vault.Class, owner string) (vault.KeyID, error)
	SealUnder(ctx context.Context, id vault.KeyID, class vault.Class, objectID string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, class vault.Class, objectID string, blob []byte) ([]byte, error)
	ShredOwner(ctx context.Context, class vault.Class, owner string) (bool, error)
}

var _ Vault = (*vault.Keyring)(nil)

// ErrNoVault means TOTP seeds in the database are sealed but the console
// was started without the vault that sealed them.
var ErrNoVault = errors.New("admin: TOTP secrets are sealed by the privacy vault, but no vault is configured")

// credOwner is the vault key owner for a user's credentials; totpObject
// names the TOTP seed (pending and active share it: enrolment moves the
// sealed bytes from one column to the other).
// recoveryObject names the user's recovery-code HMAC key.
func credOwner(userID string) string      { return "admin_user:" + userID }
func totpObject(userID string) string     { return "admin_user:" + userID + "/totp" }
func recoveryObject(userID string) string { return "admin_user:" + userID + "/recovery_key" }

// sealTOTP seals a TOTP seed for storage; without a vault it is stored as
// before (plaintext), which only tests and unwired tools do.
func (s *Service) sealTOTP(ctx context.Context, userID string, secret []byte) ([]byte, error) {
	if s.vault == nil {
		return secret, nil
	}
	return s.sealCred(ctx, userID, totpObject(userID), secret)
}

func (s *Service) sealCred(ctx context.Context, userID, object string, secret []byte) ([]byte, error) {
	id, err := s.vault.Key(ctx, vault.ClassCredential, credOwner(userID))
	if err != nil {
		return nil, fmt.Errorf("admin: vault key: %w", err)
	}
	b, err := s.vault.SealUnder(ctx, id, vault.ClassCredential, object, secret)
	if err != nil {
		return nil, fmt.Errorf("admin: seal credential: %w", err)
	}
	return b, nil
}

// openTOTP returns the TOTP seed stored as b (sealed, or legacy plaintext).
func (s *Service) openTOTP(ctx context.Context, userID string, b []byte) ([]byte, error) {
	if len(b) == 0 || !vault.IsSealed(b) {
		return b, nil
	}
	return s.openCred(ctx, totpObject(userID), b)
}

func (s *Service) openCred(ctx context.Context, object string, b []byte) ([]byte, error) {
	if s.vault == nil {
		return nil, ErrNoVault
	}
	secret, err := s.vault.Open(ctx, vault.ClassCredential, object, b)
	if err != nil {
		return nil, fmt.Errorf("admin: open credential: %w", err)
	}
	return secret, nil
}

// newRecoveryKey returns a fresh 256-bit HMAC key for a user's recovery-code
// hashes and its sealed form; without a vault, none (codes are then hashed
// with hashToken as before).
func (s *Service) newRecoveryKey(ctx context.Context, userID string) (key, sealed []byte, err error) {
	if s.vault == nil {
		return nil, nil, nil
	}
	key = make([]byte, 32)
	rand.Read(key)
	sealed, err = s.sealCred(ctx, userID, recoveryObject(userID), key)
	return key, sealed, err
}

// recoveryKeyOf opens u's recovery-code key (nil for codes made without one).
func (s *Service) recoveryKeyOf(ctx context.Context, u userRow) ([]byte, error) {
	if len(u.recoveryKey) == 0 {
		return nil, nil
	}
	return s.openCred(ctx, recoveryObject(u.ID), u.recoveryKey)
}

// recoveryHash is how a recovery code is stored: HMAC-SHA-256 under the
// user's sealed recovery key, so the stored hashes cannot even be checked
// without the vault and die with the user's shredded credential key; codes
// made without a key keep the plain hashToken form.
func recoveryHash(key []byte, code string) string {
	if key == nil {
		return hashToken(normalizeRecovery(code))
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("izwi-admin-recovery\x00" + normalizeRecovery(code)))
	return "k1:" + hex.EncodeToString(m.Sum(nil))
}

// shredCredentials destroys the user's credential key after their factor
// was removed, so any copy of the sealed seed (a backup, a free page) is
// unreadable. Failure is logged: the columns are already cleared.
func (s *Service) shredCredentials(ctx context.Context, actor, userID string) {
	if s.vault == nil {
		return
	}
	if _, err := s.vault.ShredOwner(vault.WithActor(ctx, actor), vault.ClassCredential, credOwner(userID)); err != nil {
		s.log.Error("admin: shredding a revoked TOTP factor's key failed", "user", userID, "err", err)
	}
}

// sealLegacySecrets seals TOTP seeds stored in plaintext by earlier
// versions (or by a console run without a vault). Overwritten values leave
// the file: secure_delete zeroes freed space, and the WAL is truncated.
// Idempotent; runs at every start with a vault.
func (s *Service) sealLegacySecrets(ctx context.Context) error {
	if s.vault == nil {
		return nil
	}
	type row struct {
		id              string
		secret, pending []byte
	}
	rs, err := s.db.QueryContext(ctx, "SELECT id, totp_secret, totp_pending FROM admin_users WHERE totp_secret IS NOT NULL OR totp_pending IS NOT NULL")
	if err != nil {
		return fmt.Errorf("admin: legacy TOTP secrets: %w", err)
	}
	var todo []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.secret, &r.pending); err != nil {
			rs.Close()
			return fmt.Errorf("admin: legacy TOTP secrets: %w", err)
		}
		if (len(r.secret) > 0 && !vault.IsSealed(r.secret)) || (len(r.pending) > 0 && !vault.IsSealed(r.pending)) {
			todo = append(todo, r)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil || len(todo) == 0 {
		return err
	}
	for _, r := range todo {
		for _, col := range []*[]byte{&r.secret, &r.pending} {
			if len(*col) > 0 && !vault.IsSealed(*col) {
				b, err := s.sealTOTP(ctx, r.id, *col)
				if err != nil {
					return err
				}
				*col = b
			}
		}
		err := s.inTx(ctx, func(tx *store.Tx) error {
			if err := tx.SecureDelete(ctx); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE admin_users SET totp_secret = ?, totp_pending = ? WHERE id = ?", r.secret, r.pending, r.id)
			return err
		})
		if err != nil {
			return fmt.Errorf("admin: seal legacy TOTP secret: %w", err)
		}
	}
	if busy, err := s.db.Checkpoint(ctx); err != nil || busy {
		s.log.Warn("admin: WAL checkpoint after sealing TOTP secrets incomplete; plaintext may stay in the WAL until the next", "err", err)
	}
	s.log.Info("admin: sealed plaintext TOTP secrets under the vault", "users", len(todo))
	return nil
}
