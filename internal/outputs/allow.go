package outputs

import (
	"fmt"
	"net/netip"
	"strings"
)

// Destinations is the operator's allow-list for the outputs whose address
// an API caller gives (OBS, webhook): a caller with live.write must not be
// able to make the server connect wherever it likes (SSRF: the cloud
// metadata address, the admin listener, the database). Entries are host
// names (matched exactly, case-insensitively), IP addresses or CIDR
// prefixes; an IP given as a URL's host must fall in one of the prefixes
// or be listed. YouTube's address is not a caller's: it comes from a
// credentials file the operator wrote.
type Destinations struct {
	names    map[string]bool
	prefixes []netip.Prefix
}

// ParseDestinations parses [outputs] allow_hosts.
func ParseDestinations(entries []string) (Destinations, error) {
	d := Destinations{names: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return Destinations{}, fmt.Errorf("outputs: an empty allow_hosts entry")
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return Destinations{}, fmt.Errorf("outputs: allow_hosts %q: %w", e, err)
			}
			d.prefixes = append(d.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				d.prefixes = append(d.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if strings.ContainsAny(e, ":@ ") {
				return Destinations{}, fmt.Errorf("outputs: allow_hosts %q: want a host name, an IP address or a CIDR prefix", e)
			}
			d.names[strings.ToLower(strings.TrimSuffix(e, "."))] = true
		}
	}
	return d, nil
}

// Allows reports whether a URL's host (without port) may be connected to.
func (d Destinations) Allows(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		for _, p := range d.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return d.names[strings.ToLower(host)]
}
