package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

const keyColumns = `id, lineage, name, scopes, created_at, expires_at, revoked_at, last_used_at, limits, allow_cidrs, deny_cidrs, rotated_to`

type rowScanner interface{ Scan(dest ...any) error }

func scanKey(row rowScanner, extra ...any) (Key, error) {
	var (
		k                           Key
		scopes, limits, allow, deny string
		created                     int64
		expires, revoked, used      sql.NullInt64
		rotatedTo                   sql.NullString
	)
	dest := append([]any{&k.ID, &k.Lineage, &k.Name, &scopes, &created, &expires, &revoked, &used, &limits, &allow, &deny, &rotatedTo}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Key{}, err
	}
	k.Created = time.Unix(created, 0).UTC()
	k.Expires, k.Revoked, k.LastUsed = fromNull(expires), fromNull(revoked), fromNull(used)
	k.RotatedTo = rotatedTo.String
	for _, s := range strings.Split(scopes, ",") {
		if sc, err := ParseScope(s); err == nil {
			k.Scopes = append(k.Scopes, sc) // a scope this build does not know grants nothing
		}
	}
	if limits != "" && limits != "{}" {
		k.Limits = []byte(limits)
	}
	k.Allow, k.Deny = splitPrefixes(allow), splitPrefixes(deny)
	return k, nil
}

// Get returns the key with public id id (ErrKeyNotFound if none).
func (ks *KeyStore) Get(ctx context.Context, id string) (Key, error) {
	if !ValidKeyID(id) {
		return Key{}, ErrKeyNotFound
	}
	k, err := scanKey(ks.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM auth_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Key{}, ErrKeyNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("auth: reading key: %w", err)
	}
	return k, nil
}

// List returns every key, oldest first, revoked ones included.
func (ks *KeyStore) List(ctx context.Context) ([]Key, error) {
	rows, err := ks.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM auth_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("auth: listing keys: %w", err)
	}
	defer rows.Close()
	keys := []Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("auth: listing keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// Verify checks a presented key: well formed, known, secret matching (in
// constant time), not revoked, not expired. It reads the database on every
// call, so a revocation applies to the very next request. Failures are
// *Failure values carrying the key id when known, never the key.
func (ks *KeyStore) Verify(ctx context.Context, presented string) (Key, error) {
	id, secret, err := ParseKey(presented)
	if err != nil {
		return Key{}, &Failure{Actor: "anonymous", Reason: "malformed", Err: ErrInvalidCredentials}
	}
	presentedHash := ks.hasher.sum(id, secret)
	var epoch [epochSize]byte
	if ks.epoch != nil {
		epoch = ks.epoch.read()
		if c, ok := ks.cache.get(id); ok && c.epoch == epoch && epoch != ([epochSize]byte{}) &&
			ks.now().Sub(c.cachedAt) < maxCacheAge && ks.now().Sub(c.key.LastUsed) < lastUsedGranularity {
			return ks.check(c.key, presentedHash, c.hash)
		}
	}
	var hash []byte
	k, err := scanKey(ks.verify.QueryRowContext(ctx, id), &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Same work as for a known id: unknown and known ids are not
		// distinguishable by timing.
		equalHash(presentedHash, ks.dummy)
		return Key{}, &Failure{Actor: "anonymous", Reason: "unknown_key", Err: ErrInvalidCredentials}
	case err != nil:
		return Key{}, fmt.Errorf("auth: reading key: %w", err)
	}
	if _, err := ks.check(k, presentedHash, hash); err != nil {
		return Key{}, err
	}
	now := ks.now()
	if k.LastUsed.IsZero() || now.Sub(k.LastUsed) >= lastUsedGranularity {
		t := now.Truncate(lastUsedGranularity).Unix()
		// Best effort: a failed usage stamp must not refuse a valid key.
		_, _ = ks.db.ExecContext(ctx, `UPDATE auth_keys SET last_used_at = ? WHERE id = ?`, t, id)
		k.LastUsed = time.Unix(t, 0).UTC()
	}
	ks.remember(k)
	if ks.epoch != nil {
		ks.cache.put(id, cachedKey{key: k, hash: hash, epoch: epoch, cachedAt: now})
	}
	return k, nil
}

// check compares the presented hash with the stored one in constant time,
// then refuses a revoked or expired key.
func (ks *KeyStore) check(k Key, presented, stored []byte) (Key, error) {
	actor := "key:" + k.ID
	if !equalHash(presented, stored) {
		return Key{}, &Failure{Actor: actor, Reason: "bad_secret", Err: ErrInvalidCredentials}
	}
	if !k.Revoked.IsZero() {
		return Key{}, &Failure{Actor: actor, Reason: "revoked", Err: ErrRevoked}
	}
	if !k.Expires.IsZero() && !ks.now().Before(k.Expires) {
		return Key{}, &Failure{Actor: actor, Reason: "expired", Err: ErrExpired}
	}
	return k, nil
}

// Policy returns key id's limits and IP rules for the limit component.
// Policies are immutable per id, so they are remembered once read.
func (ks *KeyStore) Policy(ctx context.Context, id string) (Policy, error) {
	ks.mu.Lock()
	p, ok := ks.policies[id]
	ks.mu.Unlock()
	if ok {
		return p, nil
	}
	k, err := ks.Get(ctx, id)
	if err != nil {
		return Policy{}, err
	}
	ks.remember(k)
	return Policy{Limits: k.Limits, Allow: k.Allow, Deny: k.Deny}, nil
}

// remember caches k's policy, bounded so a flood of keys cannot grow it.
func (ks *KeyStore) remember(k Key) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if _, ok := ks.policies[k.ID]; ok {
		return
	}
	if len(ks.policies) >= 10000 {
		clear(ks.policies)
	}
	ks.policies[k.ID] = Policy{Limits: k.Limits, Allow: k.Allow, Deny: k.Deny}
}

func dedupScopes(s []Scope) []Scope {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func joinScopes(s []Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

func joinPrefixes(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Masked().String()
	}
	return strings.Join(parts, ",")
}

func splitPrefixes(s string) []netip.Prefix {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(n.Int64, 0).UTC()
}

// SubjectPolicy returns the policy of the live key behind a quota subject
// ("key:<lineage>"): the newest unrevoked key of that rotation lineage. It
// lets principals derived from a key (tickets) and rotated keys share the
// key's own limits and IP rules. A subject that is not a key's has none.
func (ks *KeyStore) SubjectPolicy(ctx context.Context, subject string) (Policy, bool, error) {
	lineage, ok := strings.CutPrefix(subject, "key:")
	if !ok || !ValidKeyID(lineage) {
		return Policy{}, false, nil
	}
	var id string
	err := ks.db.QueryRowContext(ctx,
		`SELECT id FROM auth_keys WHERE lineage = ? AND revoked_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
		lineage).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, false, nil
	}
	if err != nil {
		return Policy{}, false, fmt.Errorf("auth: reading key lineage: %w", err)
	}
	p, err := ks.Policy(ctx, id)
	return p, err == nil, err
}
