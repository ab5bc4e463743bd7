// Package netpolicy owns who may reach Izwi by network address: CIDR
// allow/deny lists (global, from configuration, and per credential, from the
// key store), the trusted reverse proxies whose X-Forwarded-For is believed,
// and the resolved client IP that logs and the audit log record. It is a leaf:
// it imports nothing of Izwi's, so config, limit and the API layer can use it.
package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrDenied is returned (wrapped) when an address is refused by a rule set.
var ErrDenied = errors.New("netpolicy: address denied")

// List is a parsed set of CIDR prefixes. IPv4 prefixes written in their
// IPv4-mapped IPv6 form (::ffff:10.0.0.0/104) are stored as plain IPv4, and
// addresses are unmapped before matching, so one rule covers both spellings.
// The zero List is empty.
type List struct {
	prefixes []netip.Prefix
}

// maxListEntries bounds a list so a hostile config or key record cannot make
// every request walk thousands of prefixes.
const maxListEntries = 4096

// ParseList parses CIDR strings ("10.0.0.0/8", "2001:db8::/32") and bare
// addresses ("192.0.2.7" means /32, "::1" means /128). It reports every bad
// entry. Prefixes with host bits set ("10.1.2.3/8") are refused: they are
// usually typos, and silently masking them would widen a rule.
func ParseList(entries []string) (List, error) {
	if len(entries) > maxListEntries {
		return List{}, fmt.Errorf("netpolicy: %d entries; at most %d", len(entries), maxListEntries)
	}
	var (
		l    List
		errs []error
	)
	for _, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.prefixes = append(l.prefixes, p)
	}
	if err := errors.Join(errs...); err != nil {
		return List{}, err
	}
	return l, nil
}

// MustParseList is ParseList for constants in tests and defaults; it panics
// on a bad entry.
func MustParseList(entries ...string) List {
	l, err := ParseList(entries)
	if err != nil {
		panic(err)
	}
	return l
}

// ParsePrefix parses one CIDR or bare address, normalising IPv4-mapped IPv6.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("netpolicy: empty CIDR")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("netpolicy: %q is not an IP address or CIDR", clip(s))
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("netpolicy: %q is not a CIDR", clip(s))
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("netpolicy: %q has host bits set; did you mean %s?", clip(s), p.Masked())
	}
	if a := p.Addr(); a.Is4In6() {
		// A masked prefix keeps the ::ffff marker only at /96 or longer,
		// so this is an IPv4 CIDR spelled in IPv6.
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p, nil
}

// Contains reports whether addr (unmapped first) falls in any prefix.
func (l List) Contains(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Len is the number of prefixes.
func (l List) Len() int { return len(l.prefixes) }

// Strings returns the prefixes in canonical form.
func (l List) Strings() []string {
	out := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		out[i] = p.String()
	}
	return out
}

// Rules is an allow list and a deny list. Deny wins; an empty allow list
// allows every address the deny list does not refuse.
type Rules struct {
	Allow List
	Deny  List
}

// ParseRules parses both lists.
func ParseRules(allow, deny []string) (Rules, error) {
	a, errA := ParseList(allow)
	d, errD := ParseList(deny)
	if err := errors.Join(errA, errD); err != nil {
		return Rules{}, err
	}
	return Rules{Allow: a, Deny: d}, nil
}

// Empty reports whether the rules refuse nothing.
func (r Rules) Empty() bool { return r.Allow.Len() == 0 && r.Deny.Len() == 0 }

// Check returns nil when addr may connect and an error wrapping ErrDenied
// otherwise. An invalid address (unknown peer) passes only empty rules: with
// any rule configured, an address that cannot be checked is refused.
func (r Rules) Check(addr netip.Addr) error {
	if r.Empty() {
		return nil
	}
	if !addr.IsValid() {
		return fmt.Errorf("%w: client address unknown", ErrDenied)
	}
	if r.Deny.Contains(addr) {
		return fmt.Errorf("%w: in deny list", ErrDenied)
	}
	if r.Allow.Len() > 0 && !r.Allow.Contains(addr) {
		return fmt.Errorf("%w: not in allow list", ErrDenied)
	}
	return nil
}

// clip keeps error messages short when echoing hostile input.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
