package limit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
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
	err := l.with(ctx, p, tryLoad, func(s *subject, now time.Time) error {
		if check != nil {
			if err := check(s); err != nil {
				return err
			}
		}
		if ok, wait := s.req.take(1, now); !ok {
			return l.refused(&Error{Code: CodeRateLimited, Limit: "rps", RetryAfter: wait})
		}
		perDay, day, at = s.eff.RequestsPerDay, s.day, now
		switch {
		case perDay > 0 && l.db != nil:
			return nil // counted below
		case perDay > 0 && s.total().requests >= perDay:
			return l.refused(quotaError("requests_per_day", now))
		}
		if s.loaded {
			s.pending.requests++
		}
		return nil
	})
	if err != nil || perDay <= 0 || l.db == nil {
		return err
	}
	ok, err := takeRequest(ctx, l.db, p.Subject, day, perDay, at)
	if err != nil {
		return fmt.Errorf("limit: counting a request against requests_per_day: %w", err)
	}
	if !ok {
		return l.refused(quotaError("requests_per_day", at))
	}
	return nil // Usage reads the count back from the database
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
func (l *Limiter) CheckAudio(ctx context.Context, p auth.Principal) error {
	return l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		if lim := s.eff.audioLimitMs(); lim > 0 && s.total().audioMs >= lim {
			return l.refused(quotaError("audio_minutes_per_day", now))
		}
		return nil
	})
}

// ChargeAudio charges d of audio to p's day, atomically: if the charge
// would pass the daily limit nothing is charged and quota_exceeded is
// returned. Callers charge each chunk before processing it, so refused
// audio is never processed.
func (l *Limiter) ChargeAudio(ctx context.Context, p auth.Principal, d time.Duration) error {
	us := max(d.Microseconds(), 0)
	return l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		// Counters are whole milliseconds; the sub-millisecond remainder
		// is carried in memory so 12.5 ms chunks are not undercounted.
		ms, rem := (s.audioRemUs+us)/1000, (s.audioRemUs+us)%1000
		if lim := s.eff.audioLimitMs(); lim > 0 && s.total().audioMs+ms > lim {
			return l.refused(quotaError("audio_minutes_per_day", now))
		}
		s.pending.audioMs += ms
		s.audioRemUs = rem
		return nil
	})
}

// Charge charges tokens chat tokens to p: the daily quota (atomic, as for
// audio) and the per-second bucket (a charge larger than one second's worth
// succeeds from a full bucket and leaves it in debt, so the next call
// waits). Nothing is charged when either refuses.
func (l *Limiter) Charge(ctx context.Context, p auth.Principal, tokens int64) error {
	n := max(tokens, 0)
	return l.with(ctx, p, mustLoad, func(s *subject, now time.Time) error {
		if lim := s.eff.ChatTokensPerDay; lim > 0 && s.total().chatTokens+n > lim {
			return l.refused(quotaError("chat_tokens_per_day", now))
		}
		if ok, wait := s.chat.take(float64(n), now); !ok {
			return l.refused(&Error{Code: CodeRateLimited, Limit: "chat_tokens_per_second", RetryAfter: wait})
		}
		s.pending.chatTokens += n
		return nil
	})
}

// refused reports e to the OnLimited hook (metrics) and returns it.
func (l *Limiter) refused(e *Error) *Error {
	if l.opts.OnLimited != nil {
		l.opts.OnLimited(e.Limit)
	}
	return e
}

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
	if err == nil && l.db != nil && u.Limits.RequestsPerDay > 0 {
		// Counted in the database, by every process sharing it.
		c, lerr := loadUsage(ctx, l.db, u.Subject, u.Day)
		if lerr != nil {
			return u, fmt.Errorf("limit: loading usage: %w", lerr)
		}
		u.Used.Requests = c.requests
	}
	return u, err
}
