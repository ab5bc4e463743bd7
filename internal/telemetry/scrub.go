package telemetry

import (
	"regexp"
	"strings"
)

// scrubber holds the compiled patterns.
type scrubber struct {
	bearer, email, phone, card *regexp.Regexp
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
	s = p.card.ReplaceAllStringFunc(s, func(m string) string {
		if luhn(m) {
			return "[card]"
		}
		return m
	})
	s = p.phone.ReplaceAllString(s, "[phone]")
	return s
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
