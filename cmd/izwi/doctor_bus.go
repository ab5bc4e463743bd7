package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/secrets"
)

// checkBus looks at the link to an external bus (bus.url): plain TCP to
// another machine, certificates near their end (izwi bus certs makes them
// for 90 days), and key or seed files others can read.
func (e doctorEnv) checkBus(context.Context) []finding {
	b := e.cfg.Bus
	if b.URL == "" {
		return nil
	}
	var out []finding
	if !b.TLS.On() {
		for _, raw := range strings.Split(b.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || netpolicy.LoopbackHost(u.Hostname()) {
				continue
			}
			out = append(out, finding{sevCritical, "bus-plain", fmt.Sprintf("bus.url reaches %s without TLS: audio, captions and key revocations cross the network in clear", u.Host),
				"secure the bus: izwi bus certs DIR, then [bus.tls] and bus.nkey_file (docs/deploy.md \"Securing the bus\")"})
			break
		}
		return out
	}
	if notAfter, err := readLeaf(b.TLS.Cert); err == nil {
		switch left := notAfter.Sub(e.now); {
		case left <= 0:
			out = append(out, finding{sevCritical, "bus-cert-expired", b.TLS.Cert + " has expired: the nodes refuse this process", "re-run izwi bus certs and restart"})
		case left < 30*24*time.Hour:
			out = append(out, finding{sevWarning, "bus-cert-expiring", fmt.Sprintf("%s expires in %d days", b.TLS.Cert, int(left.Hours()/24)), "re-run izwi bus certs, copy, restart each process in turn"})
		}
	}
	for _, p := range []string{b.TLS.Key, b.NKeyFile} {
		if p == "" {
			continue
		}
		if err := secrets.CheckFile(p); errors.Is(err, secrets.ErrLoosePermissions) {
			out = append(out, finding{sevCritical, "file-permissions", oneLineErr(err), "restrict it to the user izwi runs as"})
		}
	}
	return out
}
