package telemetry

import (
	"net/netip"
	"regexp"
	"strings"
)

// scrubber holds the compiled patterns.
type scrubber struct {
	bearer, email, phone, card, ipv4 *regexp.Regexp
}

// patterns is never written after initialisation; *regexp.Regexp is safe
// for concurrent use, so this is shared read-only data, not mutable state.
var patterns = scrubber{
	// "Bearer abc.def" and "Basic dXNlcjpw" credentials in free text.
	bearer: regexp.MustCompile(`(?i)\b(bearer|basic|token)\s+[A-Za-z0-9\-._~+/]{8,}=*`),
	email:  regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`),
	// Card candidates: 13–19 digits with optional single spaces or dashes,
	// confirmed with the Luhn check so ordinary numbers survive.
	card: regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`),
	// Phone numbers: optional +country, then 3 groups of digits, or a run
	// of 10–15 digits after "+".
	phone: regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\b\d{2,4})[ .-]?\d{3,4}[ .-]?\d{3,4}\b|\+\d{10,15}\b`),
	// Dotted quads, kept whole: the phone pattern would otherwise read
	// 127.255.255 of 127.255.255.254 as a number.
	ipv4: regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`),
}

// Scrub removes bearer tokens, e-mail addresses, card numbers and phone
// numbers from s.
func Scrub(s string) string {
	if s == "" {
		return s
	}
	p := &patterns
	s = p.bearer.ReplaceAllString(s, "$1 "+Redacted)
	s = p.email.ReplaceAllString(s, "[email]")
	return outsideIPs(s, func(part string) string {
		part = p.card.ReplaceAllStringFunc(part, func(m string) string {
			if luhn(m) {
				return "[card]"
			}
			return m
		})
		return p.phone.ReplaceAllString(part, "[phone]")
	})
}

// outsideIPs applies f to the text between IPv4 addresses, leaving the
// addresses themselves (which operators need, and which the audit log
// pseudonymises on its own) untouched. A dotted quad that is not an
// address (999.1.1.1) is not protected.
func outsideIPs(s string, f func(string) string) string {
	locs := patterns.ipv4.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return f(s)
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		if _, err := netip.ParseAddr(s[l[0]:l[1]]); err != nil {
			continue
		}
		b.WriteString(f(s[last:l[0]]))
		b.WriteString(s[l[0]:l[1]])
		last = l[1]
	}
	b.WriteString(f(s[last:]))
	return b.String()
}

// luhn reports whether the digits of s pass the Luhn checksum.
func luhn(s string) bool {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return len(digits) >= 13 && sum%10 == 0
}
