package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/config"
)

func TestBlocklistShipped(t *testing.T) {
	b := loadBlocklist()
	if len(b) < 3000 {
		t.Fatalf("blocklist has %d entries, want >= 3000", len(b))
	}
	for _, w := range []string{"123456", "password", "qwerty", "letmein", "trustno1"} {
		if !b.contains(w) {
			t.Errorf("blocklist lacks %q", w)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	b := loadBlocklist()
	// Entries of the shipped list that are long enough to pass the length
	// rule are refused by the list itself.
	var longCommon []string
	for w := range b {
		if utf8.RuneCountInString(w) >= MinPasswordLen {
			longCommon = append(longCommon, w)
		}
	}
	if len(longCommon) < 50 {
		t.Fatalf("only %d list entries of 12+ characters", len(longCommon))
	}
	cases := []struct {
		pw, user string
		ok       bool
		why      string
	}{
		{"elevenchars", "alice", false, "at least 12"},
		{"twelve chars", "alice", true, ""},
		{"ñandú-ñandú!", "alice", true, ""},                        // 12 code points, 16 bytes
		{"ñandúñandú", "alice", false, "12"},                       // 10 code points, 14 bytes
		{"alllowercaseletters", "alice", true, ""},                 // no composition rules
		{strings.Repeat("long passphrase ", 5), "alice", true, ""}, // 80 characters
		{strings.Repeat("x", 64) + "yz", "alice", true, ""},        // ≥ 64 allowed
		{longCommon[0], "alice", false, "common or breached"},
		{strings.ToUpper(longCommon[1]), "alice", false, "common or breached"},
		{"dragon123456", "alice", false, "common or breached"},
		{"qwertyqwerty", "alice", false, "common"},
		{"aaaaaaaaaaaa", "alice", false, "repeats"},
		{"abcdefghijklm", "alice", false, "sequence"},
		{"123456789012", "alice", false, "sequence"},
		{"alice-alice!", "alice", false, "user or product"},
		{"izwi-izwi-izwi", "bob", false, "user or product"},
		{strings.Repeat("x", MaxPasswordLen+1), "alice", false, "at most"},
	}
	for _, c := range cases {
		err := b.checkPassword(normalizePassword(c.pw), c.user)
		var pe *PolicyError
		if c.ok != (err == nil) || (!c.ok && (!errors.As(err, &pe) || !strings.Contains(pe.Reason, c.why))) {
			t.Errorf("%q: %v, want ok=%v (%s)", c.pw, err, c.ok, c.why)
		}
	}
}

// No truncation: an 80-character password does not log in with its first 72.
func TestNoTruncation(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	long := strings.Repeat("abcdefghij-", 8)[:80]
	if r := admin.do("POST", "/api/users", map[string]string{"name": "long", "role": "operator", "password": long}); r.status != 200 {
		t.Fatalf("create with an 80-character password: %d %s", r.status, r.raw)
	}
	if r := e.client().do("POST", "/login", map[string]string{"name": "long", "password": long[:72]}); r.status != 401 {
		t.Fatalf("login with the first 72 characters: %d", r.status)
	}
	e.client().login("long", long, "full")
	if r := e.client().do("POST", "/login", map[string]string{"name": "long", "password": long + "x"}); r.status != 401 {
		t.Fatalf("login with the password plus one character: %d", r.status)
	}
	// The longest allowed password works; one character more never matches.
	var sb strings.Builder
	for i := 0; sb.Len() < MaxPasswordLen; i++ {
		sb.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%3))
	}
	longest := sb.String()[:MaxPasswordLen]
	if r := admin.do("POST", "/api/users", map[string]string{"name": "longest", "role": "operator", "password": longest}); r.status != 200 {
		t.Fatalf("create with a %d-character password: %d %s", MaxPasswordLen, r.status, r.raw)
	}
	e.client().login("longest", longest, "full")
	if r := e.client().do("POST", "/login", map[string]string{"name": "longest", "password": longest + "a"}); r.status != 401 {
		t.Fatalf("login with %d characters: %d", MaxPasswordLen+1, r.status)
	}
	// NFKC: a full-width form of the same password logs in too.
	e.client().login(testAdmin, "ｃｏｒｒｅｃｔ horse battery staple", "full")
}

func TestArgon2idPHC(t *testing.T) {
	enc := hashPassword("a long test passphrase", MinParams())
	h, err := parsePHC(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") || len(h.salt) < 16 || len(h.key) != 32 {
		t.Fatalf("hash %s: salt %d bytes, key %d", enc, len(h.salt), len(h.key))
	}
	if enc == hashPassword("a long test passphrase", MinParams()) {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for pw, want := range map[string]bool{"a long test passphrase": true, "a long test passphrasE": false, "": false} {
		if ok, _, err := verifyPassword(pw, enc); err != nil || ok != want {
			t.Errorf("verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5", // 4-byte salt
		"$argon2id$v=19$m=19456,t=2,t=2$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
	}
}

// Production parameters are enforced: weaker ones need the explicit test option.
func TestProductionParamsEnforced(t *testing.T) {
	e := newEnv(t)
	_, err := NewService(context.Background(), Options{Store: e.store, Audit: e.audit, Settings: testSettings()})
	if err == nil || !strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("weak parameters without InsecureTestParams: %v", err)
	}
	def := config.Config{}.Defaults()
	if got := SettingsFrom(def.Admin).Params; got != MinParams() {
		t.Fatalf("default params %+v, want %+v", got, MinParams())
	}
	weak := def
	weak.Admin.Argon2MemoryKiB = 1024
	if err := weak.Validate(); err == nil || !strings.Contains(err.Error(), "argon2_memory_kib") {
		t.Fatalf("config accepted m=1024: %v", err)
	}
	weak = def
	weak.Admin.LockoutFailures = 101
	if err := weak.Validate(); err == nil {
		t.Fatal("config accepted lockout_failures = 101")
	}
	// Existing hashes at other parameters are upgraded at the next login.
	ctx := context.Background()
	e.setup()
	svc, err := NewService(ctx, Options{Store: e.store, Audit: e.audit, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, testAdmin, testPassword, "", ""); err != nil {
		t.Fatal(err)
	}
	u, _ := svc.userByName(ctx, svc.db, testAdmin)
	if h, _ := parsePHC(u.hash); h.params != MinParams() {
		t.Fatalf("hash not upgraded: %+v", h.params)
	}
}

// An action that cannot be audited does not happen.
func TestAuditFailureFailsAction(t *testing.T) {
	e := newEnv(t)
	admin := e.setup()
	e.audit.SetFail(true)
	if r := admin.do("POST", "/api/users", map[string]string{"name": "op", "role": "operator", "password": "operator passphrase one"}); r.status != 500 {
		t.Fatalf("create with audit down: %d", r.status)
	}
	c := e.client()
	if r := c.do("POST", "/login", map[string]string{"name": testAdmin, "password": testPassword}); r.status != 500 || c.cookie() != "" {
		t.Fatalf("login with audit down: %d, cookie %v", r.status, c.cookie() != "")
	}
	if r := c.do("POST", "/login", map[string]string{"name": testAdmin, "password": "wrong password, long"}); r.status != 500 {
		t.Fatalf("failed login with audit down: %d", r.status)
	}
	if r := admin.do("POST", "/logout", nil); r.status != 500 {
		t.Fatalf("logout with audit down: %d", r.status)
	}
	e.audit.SetFail(false)
	users, _ := e.svc.Users(context.Background())
	if len(users) != 1 {
		t.Fatalf("%d users: an unaudited create happened", len(users))
	}
	// Login events carry the reason, never the password.
	e.client().do("POST", "/login", map[string]string{"name": testAdmin, "password": "wrong password, long"})
	e.client().do("POST", "/login", map[string]string{"name": "ghost", "password": "wrong password, long"})
	e.client().login(testAdmin, testPassword, "full")
	fails := e.audit.Find("auth.failure", "denied")
	reasons := map[string]bool{}
	for _, ev := range fails {
		reasons[ev.Details["reason"]] = true
		if strings.Contains(ev.Target, "ghost") {
			t.Errorf("audit target names the typed user name: %s", ev.Target)
		}
	}
	if !reasons["bad_password"] || !reasons["unknown_user"] || len(e.audit.Find("user.login", "ok")) == 0 {
		t.Fatalf("login audit: reasons %v", reasons)
	}
	for _, ev := range e.audit.Events() {
		for _, v := range ev.Details {
			if strings.Contains(v, "wrong password") || strings.Contains(v, testPassword) {
				t.Fatalf("audit event %s carries a password", ev.Action)
			}
		}
	}
}

func TestAdminConfigFromEnv(t *testing.T) {
	env := map[string]string{"IZWI_ADMIN_SESSION_IDLE_TIMEOUT": "10m", "IZWI_ADMIN_LOCKOUT_FAILURES": "50",
		"IZWI_ADMIN_ARGON2_MEMORY_KIB": "65536", "IZWI_ADMIN_SETUP_TOKEN_TTL": "15m"}
	c, _, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := SettingsFrom(c.Admin)
	if s.SessionIdle != 10*time.Minute || s.LockoutFailures != 50 || s.Params.MemoryKiB != 65536 || s.SetupTokenTTL != 15*time.Minute ||
		s.SessionAbsolute != 12*time.Hour || s.Params.Iterations != 2 {
		t.Fatalf("settings %+v", s)
	}
}
