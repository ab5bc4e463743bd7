package bus

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
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

// redactURL drops credentials from a NATS URL, or a comma-separated list
// of them, before it reaches a log or error.
func redactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

func redactOne(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	return u.String()
}
