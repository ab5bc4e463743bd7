package admin

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B vectors: ASCII seed "12345678901234567890", SHA-1,
// 8 digits, 30-second steps from T0 = 0.
func TestRFC6238Vectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1234567890, "89005924"},
		{2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		step := totpStep(time.Unix(v.unix, 0))
		if got := hotpCode(seed, uint64(step), 8); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.want)
		}
	}
}

func TestTOTPWindowAndReplay(t *testing.T) {
	secret := newTOTPSecret()
	if len(secret)*8 < 160 {
		t.Fatalf("secret %d bits", len(secret)*8)
	}
	now := time.Unix(1_800_000_015, 0)
	T := totpStep(now)
	code := func(step int64) string { return hotpCode(secret, uint64(step), totpDigits) }
	for _, c := range []struct {
		step int64
		ok   bool
	}{{T, true}, {T - 1, true}, {T - 2, false}, {T + 1, false}} {
		if _, ok := checkTOTP(secret, code(c.step), now, -1); ok != c.ok {
			t.Errorf("step T%+d accepted=%v, want %v", c.step-T, ok, c.ok)
		}
	}
	// A used step (or any before it) is refused.
	if _, ok := checkTOTP(secret, code(T), now, T); ok {
		t.Error("replayed step T accepted")
	}
	if _, ok := checkTOTP(secret, code(T-1), now, T); ok {
		t.Error("step T-1 accepted after T was used")
	}
	if _, ok := checkTOTP(secret, "12345", now, -1); ok {
		t.Error("short code accepted")
	}
}

// enrol turns on TOTP for c's user through the HTTP routes and returns the
// secret and recovery codes.
func enrol(t *testing.T, e *env, c *client, password string) ([]byte, []string) {
	t.Helper()
	r := c.do("POST", "/mfa/enroll", map[string]string{"current_password": "not my password at all"})
	if r.status != 403 || r.code() != "reauth_failed" {
		t.Fatalf("enrol without re-authentication: %d %s", r.status, r.raw)
	}
	r = c.do("POST", "/mfa/enroll", map[string]string{"current_password": password})
	if r.status != 200 {
		t.Fatalf("enrol: %d %s", r.status, r.raw)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(r.body["secret"].(string))
	if err != nil || len(secret) < 20 {
		t.Fatalf("secret: %v, %d bytes", err, len(secret))
	}
	uri, _ := url.Parse(r.body["uri"].(string))
	if uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Query().Get("secret") == "" {
		t.Fatalf("otpauth uri %v", uri)
	}
	qr := r.body["qr_code"].(string)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(qr, "data:image/png;base64,"))
	if !strings.HasPrefix(qr, "data:image/png;base64,") || err != nil {
		t.Fatalf("qr code is not a PNG data URL")
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("qr png: %v", err)
	}
	// Not active until confirmed by a first code.
	if r := c.do("POST", "/mfa/confirm", map[string]string{"code": "000000"}); r.status != 403 {
		t.Fatalf("confirm with a wrong code: %d", r.status)
	}
	r = c.do("POST", "/mfa/confirm", map[string]string{"code": hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)})
	if r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	var codes []string
	for _, x := range r.body["recovery_codes"].([]any) {
		codes = append(codes, x.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return secret, codes
}

func TestMFALoginFlow(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	secret, recovery := enrol(t, e, c, testPassword)
	if len(e.audit.Find("mfa.enroll", "ok")) != 1 {
		t.Fatal("enrolment not audited")
	}
	var stored string
	e.store.QueryRowContext(context.Background(), "SELECT code_hash FROM admin_recovery_codes LIMIT 1").Scan(&stored)
	for _, rc := range recovery {
		if strings.Contains(stored, normalizeRecovery(rc)) {
			t.Fatal("recovery code stored in the clear")
		}
	}
	e.clock.Advance(time.Minute) // the enrolment code's step is used
	b := e.client()
	b.login(testAdmin, testPassword, "mfa")
	pending := b.cookie()
	// The password alone opens nothing.
	for _, p := range []string{"/api/me", "/api/users"} {
		if r := b.do("GET", p, nil); r.status != 401 {
			t.Fatalf("GET %s with only a password: %d", p, r.status)
		}
	}
	if r := b.do("POST", "/login/totp", map[string]string{"code": "000000"}); r.status != 401 {
		t.Fatalf("wrong code: %d", r.status)
	}
	code := hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)
	if r := b.do("POST", "/login/totp", map[string]string{"code": code}); r.status != 200 || r.body["stage"] != "full" {
		t.Fatalf("right code: %d %s", r.status, r.raw)
	}
	if b.cookie() == pending {
		t.Fatal("second factor did not rotate the session token")
	}
	if r := b.do("GET", "/api/me", nil); r.status != 200 {
		t.Fatalf("after MFA: %d", r.status)
	}
	// The same code again (another browser, same 30 s) is refused.
	r2 := e.client()
	r2.login(testAdmin, testPassword, "mfa")
	if r := r2.do("POST", "/login/totp", map[string]string{"code": code}); r.status != 401 {
		t.Fatalf("replayed code: %d", r.status)
	}
	// A recovery code works once, in any case and with or without dashes.
	rc := strings.ToLower(strings.ReplaceAll(recovery[3], "-", ""))
	if r := r2.do("POST", "/login/totp", map[string]string{"recovery_code": rc}); r.status != 200 {
		t.Fatalf("recovery code: %d %s", r.status, r.raw)
	}
	r3 := e.client()
	r3.login(testAdmin, testPassword, "mfa")
	if r := r3.do("POST", "/login/totp", map[string]string{"recovery_code": recovery[3]}); r.status != 401 {
		t.Fatalf("reused recovery code: %d", r.status)
	}
	// The MFA step expires.
	e.clock.Advance(6 * time.Minute)
	code = hotpCode(secret, uint64(totpStep(e.clock.Now())), 6)
	if r := r3.do("POST", "/login/totp", map[string]string{"code": code}); r.status != 401 {
		t.Fatalf("code after the MFA step expired: %d", r.status)
	}
}

// Changing MFA needs the password and a code; a password reset keeps MFA.
func TestRevokeNeedsReauthAndResetKeepsMFA(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	secret, _ := enrol(t, e, c, testPassword)
	e.clock.Advance(time.Minute)
	code := func() string { return hotpCode(secret, uint64(totpStep(e.clock.Now())), 6) }
	if r := c.do("POST", "/mfa/revoke", map[string]string{"current_password": testPassword, "code": "000000"}); r.status != 403 {
		t.Fatalf("revoke with a wrong code: %d", r.status)
	}
	if r := c.do("POST", "/mfa/revoke", map[string]string{"current_password": "wrong password here", "code": code()}); r.status != 403 {
		t.Fatalf("revoke with a wrong password: %d", r.status)
	}
	// An administrator's password reset never bypasses MFA.
	const next = "a brand new passphrase"
	if err := e.svc.ResetPassword(context.Background(), "system:test", "", testAdmin, next); err != nil {
		t.Fatal(err)
	}
	if r := c.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatalf("session after a password reset: %d", r.status)
	}
	c.login(testAdmin, next, "mfa")
	if r := c.do("POST", "/login/totp", map[string]string{"code": code()}); r.status != 200 {
		t.Fatalf("totp after reset: %d %s", r.status, r.raw)
	}
	e.clock.Advance(time.Minute)
	if r := c.do("POST", "/mfa/revoke", map[string]string{"current_password": next, "code": code()}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if len(e.audit.Find("mfa.revoke", "ok")) != 1 {
		t.Fatal("revoke not audited")
	}
	e.client().login(testAdmin, next, "full")
}

func TestChangePasswordNeedsReauth(t *testing.T) {
	e := newEnv(t)
	c := e.setup()
	const next = "another good passphrase"
	if r := c.do("POST", "/password", map[string]string{"current_password": "wrong password here", "new_password": next}); r.status != 403 {
		t.Fatalf("change with a wrong current password: %d", r.status)
	}
	if r := c.do("POST", "/password", map[string]string{"current_password": testPassword, "new_password": "password1234"}); r.status != 422 ||
		!strings.Contains(r.raw, "common or breached") {
		t.Fatalf("change to a blocklisted password: %d %s", r.status, r.raw)
	}
	if r := c.do("POST", "/password", map[string]string{"current_password": testPassword, "new_password": next}); r.status != 200 {
		t.Fatalf("change: %d %s", r.status, r.raw)
	}
	if r := c.do("GET", "/api/me", nil); r.status != 401 {
		t.Fatal("session survived a password change")
	}
	if r := e.client().do("POST", "/login", map[string]string{"name": testAdmin, "password": testPassword}); r.status != 401 {
		t.Fatal("old password still works")
	}
	e.client().login(testAdmin, next, "full")
}

// With require_mfa, a user without a factor can only enrol (or log out).
func TestRequireMFA(t *testing.T) {
	e := newEnv(t)
	set := testSettings()
	set.RequireMFA = true
	srv, err := New(context.Background(), Options{Store: e.store, Audit: e.audit, Settings: set, Console: e.console,
		Now: e.clock.Now, InsecureTestParams: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.svc = srv, srv.Service()
	e.ts.Config.Handler = srv
	c := e.setup()
	for _, p := range []string{"/api/users", "/password"} {
		if r := c.do("GET", p, nil); r.status != 403 || r.code() != "mfa_required" {
			t.Fatalf("GET %s without MFA: %d %s", p, r.status, r.raw)
		}
	}
	if r := c.do("GET", "/api/me", nil); r.status != 200 {
		t.Fatalf("GET /api/me without MFA: %d", r.status)
	}
	enrol(t, e, c, testPassword)
	if r := c.do("GET", "/api/users", nil); r.status != 200 {
		t.Fatalf("GET /api/users after enrolling: %d %s", r.status, r.raw)
	}
}
