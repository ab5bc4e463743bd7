package limit

import (
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
)

func TestWarnings(t *testing.T) {
	if w := Warnings(config.Limits{IP: config.IPRules{TrustedProxies: []string{"127.0.0.1", "10.1.0.0/16"}}}); len(w) != 0 {
		t.Fatalf("defaults with tight proxies warn: %v", w)
	}
	w := strings.Join(Warnings(config.Limits{RPS: -1, MaxSessions: -1, FailedAuthPerMinute: -1,
		IP: config.IPRules{TrustedProxies: []string{"0.0.0.0/0", "::/0", "203.0.113.7"}, Allow: []string{"0.0.0.0/0"}}}), "\n")
	for _, want := range []string{"rps = -1", "max_sessions = -1", "failed_auth_per_minute", "trusted_proxies 0.0.0.0/0 is wide",
		"trusted_proxies ::/0 is wide", "203.0.113.7/32 is a public address", "ip.allow 0.0.0.0/0"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}
