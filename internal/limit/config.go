package limit

import (
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// DefaultsFrom converts the [limits] section (after Defaults) into the
// Limiter's defaults; -1 (unlimited) carries over unchanged.
func DefaultsFrom(c config.Limits) Limits {
	return Limits{
		RPS:                 c.RPS,
		Burst:               c.Burst,
		MaxSessions:         c.MaxSessions,
		RequestsPerDay:      c.RequestsPerDay,
		AudioMinutesPerDay:  c.AudioMinutesPerDay,
		ChatTokensPerSecond: c.ChatTokensPerSecond,
		ChatTokensPerDay:    c.ChatTokensPerDay,
	}
}

// PolicyConfig converts [limits.ip] into netpolicy's configuration.
func PolicyConfig(c config.Limits) netpolicy.Config {
	return netpolicy.Config{Allow: c.IP.Allow, Deny: c.IP.Deny, TrustedProxies: c.IP.TrustedProxies}
}

// OverridesFrom builds a credential's Overrides from what the key store
// keeps: the limits JSON blob and the key's allow/deny CIDRs. Use it inside
// the Resolver given to New.
func OverridesFrom(limitsJSON []byte, allow, deny []string) (Overrides, error) {
	l, err := ParseLimits(limitsJSON)
	if err != nil {
		return Overrides{}, err
	}
	rules, err := netpolicy.ParseRules(allow, deny)
	if err != nil {
		return Overrides{}, err
	}
	return Overrides{Limits: l, IP: rules}, nil
}
