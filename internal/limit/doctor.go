package limit

import (
	"fmt"
	"net/netip"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// Warnings reports weak or unsafe [limits] settings for `izwi doctor` and
// start-up logs: limits switched off, trusted-proxy ranges so wide that
// clients could forge their address, and rules that do nothing.
func Warnings(c config.Limits) []string {
	c = config.Config{Limits: c}.Defaults().Limits
	var out []string
	off := func(key string, v float64) {
		if v == config.Unlimited {
			out = append(out, fmt.Sprintf("limits: %s = -1: no limit per key", key))
		}
	}
	off("rps", c.RPS)
	off("max_sessions", float64(c.MaxSessions))
	if c.FailedAuthPerMinute == config.Unlimited {
		out = append(out, "limits: failed_auth_per_minute = -1: clients that keep failing authentication are never throttled")
	}
	for _, s := range c.IP.TrustedProxies {
		p, err := netpolicy.ParsePrefix(s)
		if err != nil {
			continue // Validate reports it
		}
		if wide(p) {
			out = append(out, fmt.Sprintf("limits: ip.trusted_proxies %s is wide: any client in it can forge its address with X-Forwarded-For; list only your proxies", p))
		} else if p.Addr().IsGlobalUnicast() && !p.Addr().IsPrivate() {
			out = append(out, fmt.Sprintf("limits: ip.trusted_proxies %s is a public address; make sure it is your own proxy", p))
		}
	}
	for _, s := range c.IP.Allow {
		if p, err := netpolicy.ParsePrefix(s); err == nil && p.Bits() == 0 {
			out = append(out, fmt.Sprintf("limits: ip.allow %s allows every address of its family; an empty list means the same for both", p))
		}
	}
	return out
}

// wide reports prefixes covering more than a /16 of IPv4 or a /32 of IPv6:
// bigger than any reverse-proxy tier needs.
func wide(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < 16
	}
	return p.Bits() < 32
}
