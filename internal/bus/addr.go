package bus

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("bus: listen %q: %w", hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 { // -1: NATS picks a free port
		return "", 0, fmt.Errorf("bus: listen %q: bad port", hp)
	}
	return host, port, nil
}

// redactURL drops credentials from a NATS URL before it reaches a log or error.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	return u.String()
}
