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
// back. The cost is one round trip per request of a subject with a rate
// (docs/benchmarks.md); Options.LocalRate opts out.
//
// Times are the gateways' clocks in microseconds: a gateway whose clock
// runs behind refills nothing until it catches up (the row keeps the
// latest time), so skew can only slow the refill, never speed it.

// rateBuckets is the shared buckets' table. SQLite has it too, unused: a
// SQLite database serves one gateway, whose buckets stay in memory.
const rateBuckets = `CREATE TABLE limit_rate_buckets (
	subject TEXT PRIMARY KEY,
	tokens  REAL NOT NULL,
	at_us   INTEGER NOT NULL
)`

// takeShared takes one token from subject's shared bucket of size and rate
// (tokens per second) at now. It returns false and the wait for the next
// token when the bucket is empty.
func takeShared(ctx context.Context, db *store.Store, subject string, rate, size float64, now time.Time) (bool, time.Duration, error) {
	us := now.UnixMicro()
	var left float64
	err := db.QueryRowContext(ctx, `INSERT INTO limit_rate_buckets AS b (subject, tokens, at_us) VALUES (?, ? - 1, ?)
		ON CONFLICT (subject) DO UPDATE SET
			tokens = LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6) - 1,
			at_us = GREATEST(b.at_us, excluded.at_us)
		WHERE LEAST(?, b.tokens + GREATEST(0, excluded.at_us - b.at_us) * ? / 1e6) >= 1
		RETURNING tokens`, subject, size, us, size, rate, size, rate).Scan(&left)
	if errors.Is(err, sql.ErrNoRows) {
		// Empty: at most a whole token's refill away.
		return false, time.Duration(math.Ceil(1e6/rate)) * time.Microsecond, nil
	}
	if err != nil {
		return false, 0, err
	}
	return true, 0, nil
}
