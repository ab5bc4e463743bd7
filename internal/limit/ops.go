package limit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/store"
)

// sessionRetry is the Retry-After of a full session cap: a session may end
// at any moment, so the caller is told to try again shortly.
const sessionRetry = time.Second

// Allow admits one request of p against its request rate and daily
// request quota, and counts it. With a store, a subject with a daily
// request quota is counted in the database as it is admitted (an atomic
// conditional increment, outside the subject's lock), so every process
// sharing the database enforces one total; a database error then refuses
// the request (fails closed).
func (l *Limiter) Allow(ctx context.Context, p auth.Principal) error { return l.allow(ctx, p, nil) }

// allow is Allow after check, which sees the subject first (the HTTP
// middleware's per-key IP rules).
func (l *Limiter) allow(ctx context.Context, p auth.Principal, check func(*subject) error) error {
	var perDay int64
	var day string
	var at time.Time
	var rate, size float64 // the subject's rate, when the shared bucket counts it too
	err := l.with(ctx, p, tryLoad, func(s *subject, now time.Time) error {
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		if ok, wait := s.req.take(1, now); !ok {
			return l.refused(&Error{Code: CodeRateLimited, Limit: "rps", RetryAfter: wait})
		}
		if l.sharedRate() && s.req.rate > 0 {
			if s.lease >= 1 && now.Before(s.leaseUntil) {
				s.lease-- // a shared token this process already holds
			} else {
				rate, size = s.req.rate, s.req.size
			}
		}
		perDay, day, at = s.eff.RequestsPerDay, s.day, now
		switch {
		case perDay > 0 && l.db != nil:
			return nil // counted below
		case perDay > 0 && s.total().requests >= perDay:
			return l.refused(quotaError("requests_per_day", now))
		}
		if s.loaded && rate == 0 {
			s.pending.requests++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rate > 0 {
		if err := l.allowShared(ctx, p, rate, size, at, perDay <= 0); err != nil {
			return err
		}
	}
	if perDay <= 0 || l.db == nil {
		return nil
	}
	ok, err := take(ctx, l.db, colRequests, p.Subject, day, 1, perDay, at)
	if err != nil {
		return fmt.Errorf("limit: counting a request against requests_per_day: %w", err)
	}
	if !ok {
		return l.refused(quotaError("requests_per_day", at))
	}
	return nil // Usage reads the count back from the database
}

// sharedRate says whether request rates are also counted in the database
// the gateways share (sharedrate.go).
func (l *Limiter) sharedRate() bool {
	return l.db != nil && l.db.Dialect() == store.Postgres && !l.opts.LocalRate
}

// allowShared takes p's request from the shared bucket, giving the local
// token back when it refuses. A database error admits the request (the
// local bucket has already limited it), logged: rates are a guard against
// floods, and the daily quota, which fails closed, is the hard bound. When
// count is set, the admitted request is counted in p's daily usage (the
// count allow skipped, so a refused request is not counted).
func (l *Limiter) allowShared(ctx context.Context, p auth.Principal, rate, size float64, at time.Time, count bool) error {
	held := l.lookup(p.Subject)
	held.leaseMu.Lock()
	defer held.leaseMu.Unlock()
	// The request ahead may have taken a lease this one can use.
	leased := false
	if err := l.with(ctx, p, noLoad, func(s *subject, now time.Time) error {
		if s.lease >= 1 && now.Before(s.leaseUntil) {
			s.lease--
			leased = true
			if count && s.loaded {
				s.pending.requests++
			}
		}
		return nil
	}); err != nil || leased {
		return err
	}
	took, wait, err := takeShared(ctx, l.db, p.Subject, rate, size, leaseSize(rate, size), at)
	if err != nil {
		l.opts.Logger.Warn("shared request rate unavailable; the process's own applies", "subject", p.Subject, "err", err)
		took = 1
	}
	return l.with(ctx, p, noLoad, func(s *subject, now time.Time) error {
		if took == 0 {
			s.req.tokens = min(s.req.size, s.req.tokens+1)
			return l.refused(&Error{Code: CodeRateLimited, Limit: "rps", RetryAfter: wait})
		}
		if !now.Before(s.leaseUntil) {
			s.lease = 0 // an expired lease is dropped, not carried
		}
		s.lease += took - 1
		s.leaseUntil = at.Add(leaseTime)
		if count && s.loaded {
			s.pending.requests++
		}
		return nil
	})
}

// Session is one held concurrent-session slot. Release it on every exit
// path (defer it right after Acquire); Release is idempotent.
type Session struct {
	l    *Limiter
	p    auth.Principal
	s    *subject
	once sync.Once
}

// Acquire takes one of p's concurrent-session slots, refusing with
// quota_exceeded when all MaxSessions are in use.
func (l *Limiter) Acquire(ctx context.Context, p auth.Principal) (*Session, error) {
	var held *subject
	err := l.with(ctx, p, noLoad, func(s *subject, now time.Time) error {
		if m := s.eff.MaxSessions; m > 0 && s.sessions >= m {
			return l.refused(&Error{Code: CodeQuotaExceeded, Limit: "max_sessions", RetryAfter: sessionRetry})
		}
		s.sessions++
		held = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Session{l: l, p: p, s: held}, nil
}

// Release frees the slot. A subject with an open session is never evicted,
// so the held pointer stays the live one.
func (se *Session) Release() {
	se.once.Do(func() {
		se.s.mu.Lock()
		se.s.sessions--
		se.s.lastSeen = se.l.opts.Now()
		se.s.mu.Unlock()
	})
}

// ChargeAudio charges d of audio to the session's subject (see
// Limiter.ChargeAudio).
func (se *Session) ChargeAudio(ctx context.Context, d time.Duration) error {
	return se.l.ChargeAudio(ctx, se.p, d)
}

// Sessions is how many sessions p's subject holds now.
func (l *Limiter) Sessions(ctx context.Context, p auth.Principal) (int, error) {
	var n int
	err := l.with(ctx, p, noLoad, func(s *subject, _ time.Time) error { n = s.sessions; return nil })
	return n, err
}

// CheckAudio refuses before work starts when p has no audio left today.
// A shared quota (with a store) is read from the database, outside the
// subject's lock.
func (l *Limiter) CheckAudio(ctx context.Context, p auth.Principal) error {
	var lim, grant int64
	var name, day string
	var at time.Time
	err := l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		lim, grant, name, day, at = s.eff.audioLimitMs(), s.audioGrantMs, s.name, s.day, now
		if lim > 0 && l.db == nil && s.total().audioMs >= lim {
			return l.refused(quotaError("audio_minutes_per_day", now))
		}
		return nil
	})
	if err != nil || lim <= 0 || l.db == nil || grant > 0 {
		return err
	}
	c, err := loadUsage(ctx, l.db, name, day)
	if err != nil {
		return fmt.Errorf("limit: loading usage: %w", err)
	}
	if c.audioMs >= lim {
		return l.refused(quotaError("audio_minutes_per_day", at))
	}
	return nil
}

// AudioLeft is the audio p may still charge today, and whether a daily
// audio limit applies at all. Uploads bound their decoding by it, so a
// file longer than what is left is refused before it is decoded whole.
// A shared quota (with a store) is what the database has not granted yet
// plus this process's unused grant, read outside the subject's lock.
func (l *Limiter) AudioLeft(ctx context.Context, p auth.Principal) (left time.Duration, limited bool, err error) {
	var lim, grant, used int64
	var name, day string
	err = l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		lim, grant, used, name, day = s.eff.audioLimitMs(), s.audioGrantMs, s.total().audioMs, s.name, s.day
		return nil
	})
	if err != nil || lim <= 0 {
		return 0, false, err
	}
	if l.db != nil {
		c, err := loadUsage(ctx, l.db, name, day)
		if err != nil {
			return 0, true, fmt.Errorf("limit: loading usage: %w", err)
		}
		used = c.audioMs - grant
	}
	return time.Duration(max(lim-used, 0)) * time.Millisecond, true, nil
}

// audioGrant is how much audio one process reserves at a time against a
// shared daily audio quota: a chunk of audio then costs no database write,
// and a process holds at most this much the others cannot use.
const audioGrant = 10_000 // ms

// ChargeAudio charges d of audio to p's day, atomically: if the charge
// would pass the daily limit nothing is charged and quota_exceeded is
// returned. Callers charge each chunk before processing it, so refused
// audio is never processed. With a store, the daily quota is shared by
// every process on the database: audio is reserved there in grants
// (audioGrant, or what is left), each one conditional upsert, and used up
// locally; Close gives back what is unused.
func (l *Limiter) ChargeAudio(ctx context.Context, p auth.Principal, d time.Duration) error {
	us := max(d.Microseconds(), 0)
	full := false // the database had no audio left to grant
	for range 8 {
		var sub *subject
		var ms, lim int64
		var day string
		var at time.Time
		shared := false
		err := l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
			// Counters are whole milliseconds; the sub-millisecond remainder
			// is carried in memory so 12.5 ms chunks are not undercounted.
			var rem int64
			ms, rem = (s.audioRemUs+us)/1000, (s.audioRemUs+us)%1000
			sub, lim, day, at = s, s.eff.audioLimitMs(), s.day, now
			shared = lim > 0 && l.db != nil
			switch {
			case shared && s.audioGrantMs < ms && full:
				return l.refused(quotaError("audio_minutes_per_day", now))
			case shared && s.audioGrantMs < ms:
				return nil // reserve below
			case shared:
				s.audioGrantMs -= ms
			case lim > 0 && s.total().audioMs+ms > lim:
				return l.refused(quotaError("audio_minutes_per_day", now))
			default:
				s.pending.audioMs += ms
			}
			s.audioRemUs, shared = rem, false
			return nil
		})
		if err != nil || !shared {
			return err
		}
		got, err := l.reserveAudio(ctx, sub, ms, day, lim, at)
		if err != nil {
			return err
		}
		full = got == 0
	}
	return l.refused(quotaError("audio_minutes_per_day", l.opts.Now())) // other streams kept using the grants up
}

// reserveAudio reserves audio of day in the database for sub: a grant of
// audioGrant ms, or just ms when less is left, unless sub already holds
// ms. One reservation per subject at a time (grantMu), so when it finds the
// database full no other reservation of this process is in flight. It
// returns what it reserved (0: the database had none left).
func (l *Limiter) reserveAudio(ctx context.Context, sub *subject, ms int64, day string, lim int64, at time.Time) (int64, error) {
	sub.grantMu.Lock()
	defer sub.grantMu.Unlock()
	sub.mu.Lock()
	have := sub.audioGrantMs
	sub.mu.Unlock()
	if have >= ms {
		return have, nil // another stream reserved meanwhile
	}
	need := ms - have
	for _, want := range []int64{max(need, audioGrant), need} {
		ok, err := take(ctx, l.db, colAudio, sub.name, day, want, lim, at)
		if err != nil {
			return 0, fmt.Errorf("limit: counting audio against audio_minutes_per_day: %w", err)
		}
		if ok {
			sub.mu.Lock()
			if sub.day == day {
				sub.audioGrantMs += want
			}
			sub.mu.Unlock()
			return want, nil
		}
	}
	return 0, nil
}

// returnAudioGrants gives the database back the audio reserved and unused,
// so a stopped process holds none of a shared quota.
func (l *Limiter) returnAudioGrants(ctx context.Context) error {
	if l.db == nil {
		return nil
	}
	type grant struct {
		subject, day string
		ms           int64
	}
	var grants []grant
	l.mu.Lock()
	for _, s := range l.subjects {
		s.mu.Lock()
		if s.audioGrantMs > 0 {
			grants = append(grants, grant{s.name, s.day, s.audioGrantMs})
			s.audioGrantMs = 0
		}
		s.mu.Unlock()
	}
	l.mu.Unlock()
	var errs []error
	for _, g := range grants {
		if _, err := l.db.ExecContext(ctx, "UPDATE limit_usage SET audio_ms = CASE WHEN audio_ms > ? THEN audio_ms - ? ELSE 0 END WHERE subject = ? AND day = ?",
			g.ms, g.ms, g.subject, g.day); err != nil {
			errs = append(errs, fmt.Errorf("limit: returning unused audio: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Charge charges tokens chat tokens to p: the daily quota (atomic, as for
// audio) and the per-second bucket (a charge larger than one second's worth
// succeeds from a full bucket and leaves it in debt, so the next call
// waits). Nothing is charged when either refuses.
//
// With a store, the daily quota is counted in the database (as for
// requests_per_day), so processes sharing it enforce one total: the bucket
// is taken first, under the subject's lock, and given back if the
// database then refuses. On PostgreSQL the per-second bucket is shared
// too (sharedrate.go), so gateways together pass one rate; a database
// error there admits the charge (the process's own bucket has limited
// it), as for the request rate.
func (l *Limiter) Charge(ctx context.Context, p auth.Principal, tokens int64) error {
	n := max(tokens, 0)
	var lim int64
	var day string
	var at time.Time
	var rate, size float64 // the chat rate, when the shared bucket counts it too
	err := l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		lim, day, at = s.eff.ChatTokensPerDay, s.day, now
		shared := lim > 0 && l.db != nil
		if lim > 0 && !shared && s.total().chatTokens+n > lim {
			return l.refused(quotaError("chat_tokens_per_day", now))
		}
		if ok, wait := s.chat.take(float64(n), now); !ok {
			return l.refused(&Error{Code: CodeRateLimited, Limit: "chat_tokens_per_second", RetryAfter: wait})
		}
		if n > 0 && l.sharedRate() && s.chat.rate > 0 {
			rate, size = s.chat.rate, s.chat.size
		}
		if !shared {
			s.pending.chatTokens += n
		}
		return nil
	})
	if err != nil {
		return err
	}
	refund := func() error {
		return l.with(ctx, p, noLoad, func(s *subject, _ time.Time) error {
			s.chat.refund(float64(n))
			if !(lim > 0 && l.db != nil) {
				s.pending.chatTokens -= n
			}
			return nil
		})
	}
	if rate > 0 {
		ok, wait, serr := chargeShared(ctx, l.db, chatKey(p.Subject), rate, size, float64(n), at)
		switch {
		case serr != nil:
			l.opts.Logger.Warn("shared chat token rate unavailable; the process's own applies", "subject", p.Subject, "err", serr)
			rate = 0
		case !ok:
			if err := refund(); err != nil {
				return err
			}
			return l.refused(&Error{Code: CodeRateLimited, Limit: "chat_tokens_per_second", RetryAfter: wait})
		}
	}
	if lim <= 0 || l.db == nil {
		return nil
	}
	ok, err := take(ctx, l.db, colChatTokens, p.Subject, day, n, lim, at)
	if err == nil && ok {
		return nil
	}
	if rerr := refund(); rerr != nil && err == nil {
		err = rerr
	}
	if rate > 0 {
		if rerr := refundShared(ctx, l.db, chatKey(p.Subject), size, float64(n)); rerr != nil && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("limit: counting chat tokens against chat_tokens_per_day: %w", err)
	}
	return l.refused(quotaError("chat_tokens_per_day", at))
}

// refused reports e to the OnLimited hook (metrics) and returns it.
func (l *Limiter) refused(e *Error) *Error {
	if l.opts.OnLimited != nil {
		l.opts.OnLimited(e.Limit)
	}
	return e
}

// AudioAllowance says how much audio a principal may still charge today
// (Limiter implements it).
//
// Contract: limited is false when no daily audio limit applies.
type AudioAllowance interface {
	AudioLeft(ctx context.Context, p auth.Principal) (left time.Duration, limited bool, err error)
}

var _ AudioAllowance = (*Limiter)(nil)

// CapUpload bounds what an upload may decode to by the audio p has left
// today when that is less than lim allows (byQuota), so a file the quota
// would refuse is not decoded whole first. A nil al, or an error reading
// the allowance, leaves lim as it is: the charge after decoding still
// enforces the quota.
func CapUpload(ctx context.Context, al AudioAllowance, p auth.Principal, lim audio.Limits) (capped audio.Limits, byQuota bool) {
	if al == nil {
		return lim, false
	}
	left, limited, err := al.AudioLeft(ctx, p)
	if err != nil || !limited {
		return lim, false
	}
	return lim.CapDuration(left)
}

// AudioQuotaExceeded is the refusal of audio beyond the daily allowance,
// retryable at the next UTC midnight: what an upload bounded by AudioLeft
// gets when it turns out longer than what was left.
func AudioQuotaExceeded(now time.Time) *Error { return quotaError("audio_minutes_per_day", now) }

func quotaError(limit string, now time.Time) *Error {
	return &Error{Code: CodeQuotaExceeded, Limit: limit, RetryAfter: nextUTCMidnight(now).Sub(now)}
}

// Usage is a subject's usage today and its effective limits (0 = none).
type Usage struct {
	Subject  string    `json:"subject"`
	Day      string    `json:"day"`
	ResetsAt time.Time `json:"resets_at"`
	Limits   Effective `json:"limits"`
	Used     Used      `json:"usage"`
}

// Effective are effective limits as /v1/usage shows them: every field
// present, 0 meaning unlimited.
type Effective struct {
	RPS                 float64 `json:"rps"`
	Burst               int     `json:"burst"`
	MaxSessions         int     `json:"max_sessions"`
	RequestsPerDay      int64   `json:"requests_per_day"`
	AudioMinutesPerDay  float64 `json:"audio_minutes_per_day"`
	ChatTokensPerSecond float64 `json:"chat_tokens_per_second"`
	ChatTokensPerDay    int64   `json:"chat_tokens_per_day"`
}

// Used are the counters of Usage.
type Used struct {
	Requests     int64   `json:"requests"`
	Sessions     int     `json:"sessions"`
	AudioMinutes float64 `json:"audio_minutes"`
	ChatTokens   int64   `json:"chat_tokens"`
}

// Usage reports p's own usage today.
func (l *Limiter) Usage(ctx context.Context, p auth.Principal) (Usage, error) {
	var u Usage
	err := l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		t := s.total()
		u = Usage{Subject: s.name, Day: s.day, ResetsAt: nextUTCMidnight(now), Limits: Effective(s.eff), Used: Used{
			Requests: t.requests, Sessions: s.sessions, ChatTokens: t.chatTokens,
			AudioMinutes: math.Round(float64(t.audioMs)/60_000*1000) / 1000,
		}}
		return nil
	})
	if err == nil && l.db != nil && (u.Limits.RequestsPerDay > 0 || u.Limits.ChatTokensPerDay > 0 || u.Limits.AudioMinutesPerDay > 0) {
		// Counted in the database, by every process sharing it.
		c, lerr := loadUsage(ctx, l.db, u.Subject, u.Day)
		if lerr != nil {
			return u, fmt.Errorf("limit: loading usage: %w", lerr)
		}
		if u.Limits.RequestsPerDay > 0 {
			u.Used.Requests = c.requests
		}
		if u.Limits.ChatTokensPerDay > 0 {
			u.Used.ChatTokens = c.chatTokens
		}
		if u.Limits.AudioMinutesPerDay > 0 { // reserved grants count as used
			u.Used.AudioMinutes = math.Round(float64(c.audioMs)/60_000*1000) / 1000
		}
	}
	return u, err
}
