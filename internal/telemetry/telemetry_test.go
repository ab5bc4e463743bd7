package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
)

func logOne(t *testing.T, fn func(l *slog.Logger)) (string, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	fn(NewLogger(&buf, slog.LevelDebug))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("log line is not JSON: %v: %q", err, buf.String())
	}
	return buf.String(), m
}

func TestSecretKeysRedacted(t *testing.T) {
	for _, key := range []string{"api_key", "token", "Password", "client_secret", "Authorization", "cookie", "set-cookie"} {
		t.Run(key, func(t *testing.T) {
			raw, m := logOne(t, func(l *slog.Logger) { l.Info("x", key, "s3cr3t-value") })
			if strings.Contains(raw, "s3cr3t-value") || m[key] != Redacted {
				t.Fatalf("secret under %q leaked: %s", key, raw)
			}
		})
	}
	// Secrets bound with With and inside groups are redacted too.
	raw, _ := logOne(t, func(l *slog.Logger) {
		l.With("token", "abcdefgh1").Info("x", slog.Group("req", "authorization", "abcdefgh2"))
	})
	if strings.Contains(raw, "abcdefgh1") || strings.Contains(raw, "abcdefgh2") {
		t.Fatalf("secret leaked via With/Group: %s", raw)
	}
}

func TestOrdinaryAttrsKept(t *testing.T) {
	_, m := logOne(t, func(l *slog.Logger) {
		Component(l, "api").Info("request", "request_id", "4f2a9c01b2", "status", 200, "path", "/readyz")
	})
	if m["request_id"] != "4f2a9c01b2" || m["status"] != float64(200) || m["path"] != "/readyz" || m["component"] != "api" {
		t.Fatalf("ordinary attributes were changed: %v", m)
	}
}

func TestScrub(t *testing.T) {
	cases := []struct{ name, in, leak, want string }{
		{"bearer", "header was Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGci", "Bearer [redacted]"},
		{"email", "mail ada.lovelace+izwi@example.co.uk now", "lovelace", "[email]"},
		{"phone intl", "call +44 20 7946 0958 today", "7946", "[phone]"},
		{"phone us", "call (555) 123-4567", "123-4567", "[phone]"},
		{"card spaced", "card 4111 1111 1111 1111 ok", "4111 1111", "[card]"},
		{"card dashed", "card 5500-0000-0000-0004", "5500-0000", "[card]"},
		{"phone dotted", "call 555.123.4567 now", "123.4567", "[phone]"},
		{"phone beside an address", "from 10.0.0.1 call (555) 123-4567", "123-4567", "from 10.0.0.1 call [phone]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Scrub(c.in)
			if strings.Contains(got, c.leak) || !strings.Contains(got, c.want) {
				t.Fatalf("Scrub(%q) = %q, want %q and no %q", c.in, got, c.want, c.leak)
			}
		})
	}
	// Things that must survive: IDs, durations, sizes, a non-Luhn number.
	// Addresses too: main logged 127.255.255.254 as [phone].254.
	for _, keep := range []string{"request 9f86d081884c7d65", "took 1.234s", "model silero-vad-v5", "order 41111111111111112", "2026-11-23T01:02:03Z",
		"listen 127.255.255.254:8080", "peer 192.168.100.200", "from 203.0.113.7 and 10.255.255.1", "v1.13.8"} {
		if got := Scrub(keep); got != keep {
			t.Errorf("Scrub(%q) = %q, want unchanged", keep, got)
		}
	}
}

func TestErrorValuesScrubbed(t *testing.T) {
	raw, _ := logOne(t, func(l *slog.Logger) {
		l.Error("failed", "err", errors.New("user bob@example.com rejected"))
	})
	if strings.Contains(raw, "bob@example.com") {
		t.Fatalf("e-mail in error leaked: %s", raw)
	}
	raw, _ = logOne(t, func(l *slog.Logger) { l.Info("sent to ann@example.org") })
	if strings.Contains(raw, "ann@example.org") {
		t.Fatalf("e-mail in message leaked: %s", raw)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded")
	}
}

// The wrapper must still behave as a slog.Handler.
func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&buf, nil))
	err := slogtest.TestHandler(h, func() []map[string]any {
		var out []map[string]any
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
}

func FuzzScrub(f *testing.F) {
	for _, s := range []string{"", "Bearer abcdefghijk", "a@b.cd", "+1 555 123 4567", "4111111111111111", "héllo wörld"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Scrub(s)
		if Scrub(out) != out {
			t.Fatalf("Scrub not idempotent: %q -> %q -> %q", s, out, Scrub(out))
		}
	})
}
