package netpolicy

import (
	"net"
	"net/netip"
	"strings"
)

// LoopbackHost reports whether host (a name or an address, no port) is
// this machine only: "localhost" or a loopback address.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// LoopbackAddr reports whether host:port binds or reaches the loopback
// interface only.
func LoopbackAddr(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	return err == nil && LoopbackHost(host)
}
