package netpolicy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	l, err := ParseList([]string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", "::1", "::ffff:172.16.0.0/108"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128", "172.16.0.0/12"}
	if got := l.Strings(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("parsed %v, want %v", got, want)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "10.1.2.3/8", "example.com", "fe80::1%eth0", "1.2.3", "10.0.0.0/-1"} {
		if _, err := ParseList([]string{"10.0.0.0/8", bad}); err == nil {
			t.Errorf("ParseList accepted %q", bad)
		}
	}
	// Every bad entry is reported, not just the first.
	_, err = ParseList([]string{"nope", "10.0.0.0/8", "also-bad"})
	if err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "also-bad") {
		t.Fatalf("error %v does not name both bad entries", err)
	}
	if _, err := ParseList(make([]string, maxListEntries+1)); err == nil {
		t.Fatal("oversized list accepted")
	}
}

func TestRulesCheck(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		name        string
		allow, deny []string
		addr        netip.Addr
		ok          bool
	}{
		{"empty rules allow all", nil, nil, a("203.0.113.9"), true},
		{"empty rules allow unknown peer", nil, nil, netip.Addr{}, true},
		{"allow list match", []string{"10.0.0.0/8"}, nil, a("10.2.3.4"), true},
		{"allow list miss", []string{"10.0.0.0/8"}, nil, a("11.0.0.1"), false},
		{"deny wins over allow", []string{"10.0.0.0/8"}, []string{"10.9.0.0/16"}, a("10.9.1.1"), false},
		{"deny only", nil, []string{"198.51.100.0/24"}, a("198.51.100.200"), false},
		{"deny only, other address", nil, []string{"198.51.100.0/24"}, a("198.51.101.1"), true},
		{"ipv6 allow", []string{"2001:db8::/32"}, nil, a("2001:db8:1::5"), true},
		{"ipv6 miss", []string{"2001:db8::/32"}, nil, a("2001:db9::1"), false},
		{"mapped address hits ipv4 rule", []string{"10.0.0.0/8"}, nil, a("::ffff:10.1.1.1"), true},
		{"mapped address hits ipv4 deny", nil, []string{"10.0.0.0/8"}, a("::ffff:10.1.1.1"), false},
		{"ipv4 rule in mapped form hits ipv4", []string{"::ffff:10.0.0.0/104"}, nil, a("10.200.0.1"), true},
		{"ipv6 ::/0 does not cover ipv4", []string{"::/0"}, nil, a("10.0.0.1"), false},
		{"unknown peer refused when rules exist", []string{"10.0.0.0/8"}, nil, netip.Addr{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRules(tc.allow, tc.deny)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Check(tc.addr)
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%v) = %v, want ok=%v", tc.addr, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrDenied) {
				t.Fatalf("error %v does not wrap ErrDenied", err)
			}
		})
	}
}

func FuzzCIDRList(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:10.0.0.0/104", "::ffff:0:0/96",
		"10.1.2.3/8", "fe80::1%eth0/64", "", "0.0.0.0/0", "::/0", "1.2.3.4/32,5.6.7.8"} {
		f.Add(s, "10.1.2.3")
	}
	f.Add("::ffff:1.2.3.0/120", "::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, entry, addr string) {
		l, err := ParseList(strings.Split(entry, ","))
		if err != nil {
			return
		}
		// Canonical form re-parses to the same list.
		back, err := ParseList(l.Strings())
		if err != nil || strings.Join(back.Strings(), ",") != strings.Join(l.Strings(), ",") {
			t.Fatalf("%q → %v does not round-trip: %v %v", entry, l.Strings(), back.Strings(), err)
		}
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		// A mapped address and its IPv4 form always get the same answer.
		if a.Is4() {
			m := netip.AddrFrom16(a.As16())
			if l.Contains(a) != l.Contains(m) {
				t.Fatalf("%v and %v differ in %v", a, m, l.Strings())
			}
		}
		// Deny wins whatever the allow list says.
		if l.Contains(a) {
			if err := (Rules{Allow: l, Deny: l}).Check(a); err == nil {
				t.Fatalf("%v in deny list %v yet allowed", a, l.Strings())
			}
		}
	})
}
