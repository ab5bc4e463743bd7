package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	izmodels "github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/store/pgtest"
	"github.com/izwi-speech/izwi/internal/tlsconf"
)

func checks(found []finding) []string {
	var out []string
	for _, f := range found {
		out = append(out, f.Severity+":"+f.Check)
	}
	return out
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// privateDir is a temp dir with the 0700 mode izwi gives its data dir.
func privateDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func noEnv(string) (string, bool) { return "", false }

// A fresh, default install on loopback with tight permissions has nothing
// to fix (advice at info level, such as where audit checkpoints live, does
// not count: it does not make doctor exit 1).
func TestDoctorCleanInstall(t *testing.T) {
	dir := privateDir(t)
	cfg := config.Config{Data: config.Data{Dir: dir}}
	found := doctorEnv{cfg: cfg, lookupEnv: noEnv, now: time.Now(), euid: 1000}.run(context.Background())
	for _, f := range found {
		if f.Severity != sevInfo {
			t.Errorf("clean install reported %v", f)
		}
	}
}

func TestDoctorFindsUnsafeSettings(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	models := filepath.Join(dir, "models")
	// Every shipped model is pinned; a catalogue with one file trusted on
	// first use stands in for a future unpinned entry.
	cat := unpinnedCatalog(t, "whisper-tiny.en", "tiny.en-tokens.txt")
	if err := os.MkdirAll(filepath.Join(models, "whisper-tiny.en"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(models, 0o777)
	mustWrite(t, filepath.Join(models, "whisper-tiny.en", "tiny.en-tokens.txt"), "x", 0o644)
	mustWrite(t, filepath.Join(dir, "izwi.db"), "", 0o644)
	pepper := filepath.Join(dir, "pepper.key")
	mustWrite(t, pepper, "0123456789abcdef0123456789abcdef", 0o640)
	hmac := filepath.Join(dir, "hs.key")
	mustWrite(t, hmac, "short-secret", 0o600)
	tok := filepath.Join(dir, "scrape")
	mustWrite(t, tok, "abc", 0o600)
	off := false
	cfg := config.Config{
		Server:    config.Server{Listen: "0.0.0.0:8080", AdminListen: "192.0.2.10:9000", AllowInsecureHTTP: true},
		Data:      config.Data{Dir: dir},
		Auth:      config.Auth{PepperFile: pepper, RequireAuth: &off},
		Admin:     config.Admin{Argon2MemoryKiB: 4096},
		JWT:       config.JWT{Issuers: []config.JWTIssuer{{Issuer: "https://idp", Audience: "izwi", Keys: []config.JWTKey{{Alg: "HS256", SecretFile: hmac}}}}},
		Telemetry: config.Telemetry{MetricsEnabled: true, ScrapeTokenFile: tok, Traces: config.Traces{OTLPEndpoint: "http://collector.lan:4318"}},
	}
	env := map[string]string{"IZWI_ADMIN_PASSWORD": "hunter2"}
	found := doctorEnv{cfg: cfg, lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, now: time.Now(), euid: 0,
		catalog: cat}.run(context.Background())
	got := checks(found)
	for _, want := range []string{"critical:config", "critical:plain-http", "warning:admin-exposed", "warning:default-port",
		"critical:auth-off", "warning:argon2-weak", "critical:jwt-hmac-short", "critical:file-permissions", "warning:dir-permissions",
		"critical:models-writable", "warning:unpinned-models", "warning:metrics-guard", "warning:traces-plaintext",
		"warning:secret-in-env", "warning:root"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	perms := 0
	for i, f := range found {
		if i > 0 && f.Severity == sevCritical && found[i-1].Severity != sevCritical {
			t.Error("findings not sorted worst first")
		}
		if f.Message == "" || f.Advice == "" {
			t.Errorf("finding %s lacks message or advice", f.Check)
		}
		for _, secret := range []string{"hunter2", "short-secret", "0123456789abcdef"} {
			if strings.Contains(f.Message+f.Advice, secret) {
				t.Errorf("finding %s leaks a secret: %s", f.Check, f.Message)
			}
		}
		if f.Check == "file-permissions" {
			perms++
		}
	}
	if perms != 2 { // the pepper (0640) and the database (0644)
		t.Errorf("file-permission findings %d, want 2: %v", perms, found)
	}
}

func TestDoctorTLSChecks(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{Server: config.Server{Listen: "0.0.0.0:8443"}, Data: config.Data{Dir: dir},
		TLS: config.TLS{Mode: config.TLSSelfSigned}}
	if _, _, err := tlsconf.Build(cfg.Defaults().TLS, dir, nil); err != nil {
		t.Fatal(err)
	}
	_, keyFile := tlsconf.SelfSignedPaths(dir)
	env := doctorEnv{cfg: cfg, lookupEnv: noEnv, now: time.Now(), euid: 1000}
	got := checks(env.run(context.Background()))
	if slices.Contains(got, "critical:plain-http") || !slices.Contains(got, "info:self-signed") {
		t.Fatalf("TLS on a public listener: %v", got)
	}
	os.Chmod(keyFile, 0o644)
	env.now = time.Now().Add(tlsconf.SelfSignedValidity - 24*time.Hour)
	got = checks(env.run(context.Background()))
	if !slices.Contains(got, "critical:file-permissions") || !slices.Contains(got, "warning:cert-expiring") {
		t.Fatalf("loose key / expiring cert: %v", got)
	}
	env.now = time.Now().Add(2 * tlsconf.SelfSignedValidity)
	if got := checks(env.run(context.Background())); !slices.Contains(got, "critical:cert-expired") {
		t.Fatalf("expired: %v", got)
	}
}

func TestDoctorAdminMFA(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dir := privateDir(t)
		dbPath := filepath.Join(dir, "izwi.db")
		db, err := sql.Open("sqlite", "file:"+dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE other (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dbPath, 0o600)
		testAdminMFA(t, config.Config{Data: config.Data{Dir: dir}}, db, "BLOB", "x'01'", "x'02'")
	})
	// PostgreSQL, its DSN in a file as docs/deploy.md sets it up: doctor
	// reads the same tables in a read-only session.
	t.Run("postgres", func(t *testing.T) {
		dir := privateDir(t)
		dsn := pgtest.DSN(t)
		dsnFile := filepath.Join(dir, "database")
		mustWrite(t, dsnFile, dsn, 0o600)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testAdminMFA(t, config.Config{Data: config.Data{Dir: dir, DatabaseFile: dsnFile}}, db, "BYTEA", `'\x01'`, `'\x02'`)
		os.Chmod(dsnFile, 0o644)
		env := doctorEnv{cfg: config.Config{Data: config.Data{Dir: dir, DatabaseFile: dsnFile}}, lookupEnv: noEnv, now: time.Now(), euid: 1000}
		if got := checks(env.run(context.Background())); !slices.Contains(got, "critical:file-permissions") {
			t.Fatalf("a world-readable DSN file: %v", got)
		}
	})
}

// testAdminMFA runs the MFA check against db (which cfg names) as the
// admin tables appear and fill.
func testAdminMFA(t *testing.T, cfg config.Config, db *sql.DB, blob, secret1, secret2 string) {
	t.Helper()
	env := doctorEnv{cfg: cfg, lookupEnv: noEnv, now: time.Now(), euid: 1000}
	// Where audit checkpoints live is advice every install gets; ignore it here.
	adminChecks := func() []string {
		return slices.DeleteFunc(checks(env.run(context.Background())), func(c string) bool { return c == "info:audit" || c == "info:vault" })
	}
	// Without the admin tables the check is skipped.
	if got := adminChecks(); len(got) != 0 {
		t.Fatalf("no admin tables: %v", got)
	}
	if _, err := db.Exec(`CREATE TABLE admin_users (id TEXT PRIMARY KEY, role TEXT, disabled INTEGER, totp_secret ` + blob + `)`); err != nil {
		t.Fatal(err)
	}
	if got := checks(env.run(context.Background())); !slices.Contains(got, "info:admin-mfa") {
		t.Fatalf("no users: %v", got)
	}
	if _, err := db.Exec(`INSERT INTO admin_users VALUES ('a', 'admin', 0, ` + secret1 + `), ('b', 'admin', 0, NULL), ('c', 'admin', 1, NULL), ('d', 'operator', 0, NULL)`); err != nil {
		t.Fatal(err)
	}
	found := env.run(context.Background())
	if got := checks(found); !slices.Contains(got, "warning:admin-mfa") || !strings.Contains(found[0].Message, "1 of 2") {
		t.Fatalf("one admin without MFA: %v", found)
	}
	if _, err := db.Exec(`UPDATE admin_users SET totp_secret = ` + secret2 + ` WHERE id = 'b'`); err != nil {
		t.Fatal(err)
	}
	if got := adminChecks(); len(got) != 0 {
		t.Fatalf("all admins with MFA: %v", got)
	}
}

func TestDoctorCommand(t *testing.T) {
	dir := privateDir(t)
	cfgPath := filepath.Join(dir, "izwi.toml")
	mustWrite(t, cfgPath, "[data]\ndir = \""+dir+"\"\n", 0o600)
	var out, errOut strings.Builder
	c := &cli{stdout: &out, stderr: &errOut}
	if code := runDoctor(context.Background(), c, []string{"--config", cfgPath, "--json"}); code != exitOK && os.Geteuid() != 0 {
		t.Fatalf("clean config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.HasPrefix(strings.TrimSpace(out.String()), "[") {
		t.Fatalf("--json output: %s", out.String())
	}
	mustWrite(t, cfgPath, "[data]\ndir = \""+dir+"\"\n[server]\nlisten = \"0.0.0.0:8080\"\nallow_insecure_http = true\n", 0o600)
	out.Reset()
	if code := runDoctor(context.Background(), c, []string{"--config", cfgPath}); code != exitFailure || !strings.Contains(out.String(), "CRITICAL plain-http") {
		t.Fatalf("public http: exit %d\n%s", code, out.String())
	}
}

// unpinnedCatalog is the embedded catalogue with one file of model made
// unpinned (no sha256, trusted on first use).
func unpinnedCatalog(t *testing.T, model, file string) *izmodels.Catalog {
	t.Helper()
	cat, err := izmodels.Default()
	if err != nil {
		t.Fatal(err)
	}
	for i := range cat.Models {
		for j := range cat.Models[i].Files {
			f := &cat.Models[i].Files[j]
			if cat.Models[i].Name == model && f.Path == file {
				f.Verified, f.SHA256, f.Size, f.MaxSize, f.Source = false, "", 0, 1<<20, "unpinned: test"
				return cat
			}
		}
	}
	t.Fatalf("%s/%s not in the catalogue", model, file)
	return nil
}
