package limit

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// The request rate (rps, burst) of a subject is a token bucket. In one
// process it lives in memory (bucket). On PostgreSQL, which several
// gateways share, it is also kept in the database as one row per subject,
// refilled and taken from in one conditional upsert, so the gateways
// together admit what one would: a request passes the process's own
// bucket first (a cheap refusal, never a wrong admission) and then the
// shared one; a request the shared bucket refuses gives its local token
// back. Options.LocalRate opts out.
//
// To spare a round trip per request, a gateway takes up to leaseSize
// tokens at once (a tenth of a second's rate, at most a quarter of the
// burst and 64) and uses them for the next requests within leaseTime;
// what it has not used by then is dropped. Every admission still spends a
// token of the shared bucket, so the gateways together never pass the
// rate; a lease can only make another gateway wait (for at most leaseTime)
// for tokens this one took and did not need (docs/benchmarks.md has the
// cost).
//
// Times are the gateways' clocks in microseconds: a gateway whose clock
// runs behind refills nothing until it catches up (the row keeps the
// latest time), so skew can only slow the refill, never speed it.

// leaseTime bounds how long a gateway keeps shared tokens it took.
const leaseTime = 100 * time.Millisecond

// leaseSize is how many shared tokens a gateway takes at once.
func leaseSize(rate, size float64) float64 {
	return max(1, min(math.Ceil(rate*leaseTime.Seconds()), math.Floor(size/4), 64))
}

// rateBuckets is the shared buckets' table. SQLite has it too, unused: a
// SQLite database serves one gateway, whose buckets stay in memory. taken
// is what the last update took (for RETURNING).
const rateBuckets = `CREATE TABLE limit_rate_buckets (
	subject TEXT PRIMARY KEY,
	tokens  REAL NOT NULL,
	at_us   INTEGER NOT NULL,
	taken   REAL NOT NULL
)`

// takeShared takes up to want (>= 1) tokens from subject's shared bucket of
// size and rate (tokens per second) at now, as many as it holds. It
// returns how many it took: 0 when the bucket holds less than one token,
// with the wait for the next.
func takeShared(ctx context.Context, db *store.Store, subject string, rate, size, want float64, now time.Time) (float64, time.Duration, error) {
	us := now.UnixMicro()
	first := min(want, size)
	var took float64
	err := db.QueryRowContext(ctx, `INSERT INTO limit_rate_buckets AS b (subject, tokens, at_us, taken) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET
			taken = LEAST(?, FLOOR(LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6))),
			tokens = LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6)
				- LEAST(?, FLOOR(LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6))),
			at_us = GREATEST(b.at_us, excluded.at_us)
		WHERE LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6) >= 1
		RETURNING taken`, subject, size-first, us, first,
		want, size, rate,
		size, rate,
		want, size, rate,
		size, rate).Scan(&took)
	if errors.Is(err, sql.ErrNoRows) {
		// Empty: at most a whole token's refill away.
		return 0, time.Duration(math.Ceil(1e6/rate)) * time.Microsecond, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return took, 0, nil
}

// chatKey is the shared bucket's row for subject's chat tokens per second
// (the request rate's row is the subject itself; no subject kind is
// "chat").
func chatKey(subject string) string { return "chat:" + subject }

// chargeShared takes n (> 0) chat tokens from key's shared bucket of size
// and rate when it holds at least min(n, size), as the process's own
// bucket does: a charge larger than the bucket succeeds from a full one
// and leaves it in debt, so the gateways' next charges wait. It returns
// false with the wait until the charge could pass.
func chargeShared(ctx context.Context, db *store.Store, key string, rate, size, n float64, now time.Time) (bool, time.Duration, error) {
	us := now.UnixMicro()
	need := min(n, size)
	var took float64
	err := db.QueryRowContext(ctx, `INSERT INTO limit_rate_buckets AS b (subject, tokens, at_us, taken) VALUES (?, ?, ?, ?)
		ON CONFLICT (subject) DO UPDATE SET
			taken = excluded.taken,
			tokens = LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6) - excluded.taken,
			at_us = GREATEST(b.at_us, excluded.at_us)
		WHERE LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6) >= ?
		RETURNING taken`, key, size-n, us, n,
		size, rate,
		size, rate, need).Scan(&took)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, 0, err
	}
	// Refused: the wait is what the bucket lacks, at its rate.
	var tokens float64
	var at int64
	if err := db.QueryRowContext(ctx, "SELECT tokens, at_us FROM limit_rate_buckets WHERE subject = ?", key).Scan(&tokens, &at); err != nil {
		return false, 0, err
	}
	have := min(size, tokens+float64(max(0, us-at))*rate/1e6)
	return false, time.Duration(math.Ceil((need-have)/rate*1e6)) * time.Microsecond, nil
}

// refundShared gives n chat tokens back to key's shared bucket (a charge
// the daily quota then refused).
func refundShared(ctx context.Context, db *store.Store, key string, size, n float64) error {
	_, err := db.ExecContext(ctx, "UPDATE limit_rate_buckets SET tokens = LEAST(?, tokens + ?) WHERE subject = ?", size, n, key)
	return err
}
