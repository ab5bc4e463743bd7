package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/finite"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// Default limits, documented in izwi.example.toml. Unlimited is written -1
// (0 means "take the default"), so leaving a key out never removes a limit.
const (
	DefaultLimitRPS           = 20
	DefaultLimitBurst         = 40
	DefaultLimitMaxSessions   = 8
	DefaultLimitFlushInterval = 5 * time.Second
	DefaultFailedAuthPerMin   = 30
	Unlimited                 = -1
)

// Limits configures quotas, rate limits, IP allow/deny lists and trusted
// proxies. Each quota applies per subject (an API key, or a JWT issuer and
// subject); a key can override any of them. For every number: 0 takes the
// default, -1 means unlimited, a positive value is the limit.
type Limits struct {
	// RPS is requests per second (sustained) per subject; Burst how many
	// may arrive at once (IZWI_LIMITS_RPS, IZWI_LIMITS_BURST).
	RPS   float64 `json:"rps,omitempty" toml:"rps"`
	Burst int     `json:"burst,omitempty" toml:"burst"`
	// MaxSessions caps concurrent live sessions per subject
	// (IZWI_LIMITS_MAX_SESSIONS).
	MaxSessions int `json:"max_sessions,omitempty" toml:"max_sessions"`
	// RequestsPerDay caps requests per UTC day, counted in the database so
	// that every process sharing it enforces one total
	// (IZWI_LIMITS_REQUESTS_PER_DAY).
	RequestsPerDay int64 `json:"requests_per_day,omitempty" toml:"requests_per_day"`
	// AudioMinutesPerDay caps audio processed per UTC day
	// (IZWI_LIMITS_AUDIO_MINUTES_PER_DAY).
	AudioMinutesPerDay float64 `json:"audio_minutes_per_day,omitempty" toml:"audio_minutes_per_day"`
	// ChatTokensPerSecond and ChatTokensPerDay limit chat tokens
	// (IZWI_LIMITS_CHAT_TOKENS_PER_SECOND, IZWI_LIMITS_CHAT_TOKENS_PER_DAY).
	ChatTokensPerSecond float64 `json:"chat_tokens_per_second,omitempty" toml:"chat_tokens_per_second"`
	ChatTokensPerDay    int64   `json:"chat_tokens_per_day,omitempty" toml:"chat_tokens_per_day"`
	// LocalRate counts rps, burst and chat tokens per second per process
	// even when gateways share a PostgreSQL database: no database work
	// for rates, but N gateways then admit up to N times a key's rates.
	// The default (false) counts each key's rates in the database too,
	// one bound for all gateways (IZWI_LIMITS_LOCAL_RATE).
	LocalRate bool `json:"local_rate,omitempty" toml:"local_rate"`
	// FailedAuthPerMinute is how many failed authentications one client
	// network (an IPv4 address or an IPv6 /64) may make per minute before
	// its requests are refused with 429 ahead of authentication
	// (IZWI_LIMITS_FAILED_AUTH_PER_MINUTE).
	FailedAuthPerMinute float64 `json:"failed_auth_per_minute,omitempty" toml:"failed_auth_per_minute"`
	// FlushInterval bounds how long usage counters stay only in memory
	// before they are written to the database (IZWI_LIMITS_FLUSH_INTERVAL).
	FlushInterval Duration `json:"flush_interval,omitempty" toml:"flush_interval"`
	// IP holds the global address rules and the trusted proxies.
	IP IPRules `json:"ip" toml:"ip"`
}

// IPRules are CIDR lists ("10.0.0.0/8", "2001:db8::/32", or a bare address).
type IPRules struct {
	// Allow, when not empty, is the only address space that may use the
	// API; Deny always wins (IZWI_LIMITS_IP_ALLOW, IZWI_LIMITS_IP_DENY,
	// comma-separated).
	Allow []string `json:"allow,omitempty" toml:"allow"`
	Deny  []string `json:"deny,omitempty" toml:"deny"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; from anyone else it is ignored
	// (IZWI_LIMITS_TRUSTED_PROXIES, comma-separated).
	TrustedProxies []string `json:"trusted_proxies,omitempty" toml:"trusted_proxies"`
}

// defaults fills empty fields with their defaults.
func (x Limits) defaults(Config) Limits {
	if x.RPS == 0 {
		x.RPS = DefaultLimitRPS
	}
	if x.Burst == 0 {
		x.Burst = DefaultLimitBurst
	}
	if x.MaxSessions == 0 {
		x.MaxSessions = DefaultLimitMaxSessions
	}
	if x.RequestsPerDay == 0 {
		x.RequestsPerDay = Unlimited
	}
	if x.AudioMinutesPerDay == 0 {
		x.AudioMinutesPerDay = Unlimited
	}
	if x.ChatTokensPerSecond == 0 {
		x.ChatTokensPerSecond = Unlimited
	}
	if x.ChatTokensPerDay == 0 {
		x.ChatTokensPerDay = Unlimited
	}
	if x.FailedAuthPerMinute == 0 {
		x.FailedAuthPerMinute = DefaultFailedAuthPerMin
	}
	if x.FlushInterval == 0 {
		x.FlushInterval = Duration(DefaultLimitFlushInterval)
	}
	// An empty list written in TOML ("allow = []") means the same as none.
	for _, l := range []*[]string{&x.IP.Allow, &x.IP.Deny, &x.IP.TrustedProxies} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	return x
}

// limitCeiling bounds every number so later arithmetic cannot overflow.
const limitCeiling = 1e12

// validate reports every problem in x (after defaults).
func (x Limits) validate() []error {
	var errs []error
	num := func(key string, v float64) {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || v > limitCeiling:
			errs = append(errs, fmt.Errorf("config: limits.%s %v: want a number up to %g", key, v, float64(limitCeiling)))
		case v < 0 && v != Unlimited:
			errs = append(errs, fmt.Errorf("config: limits.%s %v: want a positive limit, or -1 for unlimited", key, v))
		}
	}
	num("rps", x.RPS)
	num("burst", float64(x.Burst))
	num("max_sessions", float64(x.MaxSessions))
	num("requests_per_day", float64(x.RequestsPerDay))
	num("audio_minutes_per_day", x.AudioMinutesPerDay)
	num("chat_tokens_per_second", x.ChatTokensPerSecond)
	num("chat_tokens_per_day", float64(x.ChatTokensPerDay))
	num("failed_auth_per_minute", x.FailedAuthPerMinute)
	if d := x.FlushInterval.Std(); d < 100*time.Millisecond || d > time.Minute {
		errs = append(errs, fmt.Errorf("config: limits.flush_interval %v: want 100ms..1m (usage held only in memory longer is lost on a crash)", d))
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"ip.allow", x.IP.Allow}, {"ip.deny", x.IP.Deny}, {"ip.trusted_proxies", x.IP.TrustedProxies}} {
		if _, err := netpolicy.ParseList(l.list); err != nil {
			errs = append(errs, fmt.Errorf("config: limits.%s: %w", l.key, err))
		}
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Limits) applyEnv(e envReader) {
	float := func(name string, dst *float64) {
		if v, ok := e.get(name); ok {
			f, err := finite.Parse(v)
			if err != nil {
				*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want a number", name, v))
				return
			}
			*dst = f
		}
	}
	int64v := func(name string, dst *int64) {
		if v, ok := e.get(name); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want an integer", name, v))
				return
			}
			*dst = n
		}
	}
	list := func(name string, dst *[]string) {
		if v, ok := e.get(name); ok {
			*dst = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*dst = append(*dst, s)
				}
			}
		}
	}
	float("IZWI_LIMITS_RPS", &x.RPS)
	e.Int("IZWI_LIMITS_BURST", &x.Burst)
	e.Int("IZWI_LIMITS_MAX_SESSIONS", &x.MaxSessions)
	int64v("IZWI_LIMITS_REQUESTS_PER_DAY", &x.RequestsPerDay)
	float("IZWI_LIMITS_AUDIO_MINUTES_PER_DAY", &x.AudioMinutesPerDay)
	float("IZWI_LIMITS_CHAT_TOKENS_PER_SECOND", &x.ChatTokensPerSecond)
	int64v("IZWI_LIMITS_CHAT_TOKENS_PER_DAY", &x.ChatTokensPerDay)
	e.Bool("IZWI_LIMITS_LOCAL_RATE", &x.LocalRate)
	float("IZWI_LIMITS_FAILED_AUTH_PER_MINUTE", &x.FailedAuthPerMinute)
	e.Duration("IZWI_LIMITS_FLUSH_INTERVAL", &x.FlushInterval)
	list("IZWI_LIMITS_IP_ALLOW", &x.IP.Allow)
	list("IZWI_LIMITS_IP_DENY", &x.IP.Deny)
	list("IZWI_LIMITS_TRUSTED_PROXIES", &x.IP.TrustedProxies)
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Limits) envVars() []string {
	return []string{"IZWI_LIMITS_RPS", "IZWI_LIMITS_BURST", "IZWI_LIMITS_MAX_SESSIONS", "IZWI_LIMITS_REQUESTS_PER_DAY", "IZWI_LIMITS_AUDIO_MINUTES_PER_DAY",
		"IZWI_LIMITS_CHAT_TOKENS_PER_SECOND", "IZWI_LIMITS_CHAT_TOKENS_PER_DAY", "IZWI_LIMITS_LOCAL_RATE", "IZWI_LIMITS_FAILED_AUTH_PER_MINUTE", "IZWI_LIMITS_FLUSH_INTERVAL",
		"IZWI_LIMITS_IP_ALLOW", "IZWI_LIMITS_IP_DENY", "IZWI_LIMITS_TRUSTED_PROXIES"}
}
