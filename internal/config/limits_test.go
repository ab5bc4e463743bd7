package config

import (
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaultsEnvAndValidation(t *testing.T) {
	d := Config{}.Defaults().Limits
	if d.RPS != DefaultLimitRPS || d.Burst != DefaultLimitBurst || d.MaxSessions != DefaultLimitMaxSessions ||
		d.AudioMinutesPerDay != Unlimited || d.ChatTokensPerDay != Unlimited || d.FlushInterval.Std() != 5*time.Second || d.FailedAuthPerMinute != 30 {
		t.Fatalf("defaults %+v", d)
	}

	c, err := Parse([]byte("[limits]\nrps = 2.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := envReader{lookup: env(map[string]string{
		"IZWI_LIMITS_BURST":                 "5",
		"IZWI_LIMITS_MAX_SESSIONS":          "-1",
		"IZWI_LIMITS_AUDIO_MINUTES_PER_DAY": "90",
		"IZWI_LIMITS_CHAT_TOKENS_PER_DAY":   "100000",
		"IZWI_LIMITS_FLUSH_INTERVAL":        "2s",
		"IZWI_LIMITS_IP_ALLOW":              "10.0.0.0/8, 2001:db8::/32",
		"IZWI_LIMITS_TRUSTED_PROXIES":       "127.0.0.1",
	}), errs: new([]error)}
	c.Limits.applyEnv(e)
	if len(*e.errs) > 0 {
		t.Fatal(*e.errs)
	}
	l := c.Defaults().Limits
	if l.RPS != 2.5 || l.Burst != 5 || l.MaxSessions != -1 || l.AudioMinutesPerDay != 90 || l.ChatTokensPerDay != 100000 ||
		l.FlushInterval.Std() != 2*time.Second || strings.Join(l.IP.Allow, " ") != "10.0.0.0/8 2001:db8::/32" ||
		len(l.IP.TrustedProxies) != 1 || l.ChatTokensPerSecond != Unlimited {
		t.Fatalf("file + env gave %+v", l)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	bad := map[string]string{
		"negative other than -1": "[limits]\nrps = -2.0\n",
		"nan":                    "[limits]\naudio_minutes_per_day = nan\n",
		"negative failures":      "[limits]\nfailed_auth_per_minute = -3.0\n",
		"inf":                    "[limits]\nchat_tokens_per_second = inf\n",
		"huge":                   "[limits]\nchat_tokens_per_day = 9000000000000000\n",
		"flush too slow":         "[limits]\nflush_interval = \"10m\"\n",
		"flush too fast":         "[limits]\nflush_interval = \"1ms\"\n",
		"bad allow CIDR":         "[limits.ip]\nallow = [\"10.0.0.0/33\"]\n",
		"host bits set":          "[limits.ip]\ndeny = [\"10.1.2.3/8\"]\n",
		"bad proxy":              "[limits.ip]\ntrusted_proxies = [\"proxy.local\"]\n",
		"unknown key":            "[limits]\nrequests_per_second = 3\n",
	}
	for name, doc := range bad {
		c, err := Parse([]byte(doc))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, v := range []string{"IZWI_LIMITS_RPS=fast", "IZWI_LIMITS_CHAT_TOKENS_PER_DAY=1.5", "IZWI_LIMITS_BURST=x"} {
		name, val, _ := strings.Cut(v, "=")
		if _, _, err := Load(Source{LookupEnv: env(map[string]string{name: val, "IZWI_CONFIG": ""})}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", v, err)
		}
	}
}
