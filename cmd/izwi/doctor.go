package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // read-only look at the admin tables

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth/jwt"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/models"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/tlsconf"
	"github.com/izwi-speech/izwi/internal/vault"
)

// Doctor severities: critical and warning make `izwi doctor` exit 1.
const (
	sevCritical = "critical"
	sevWarning  = "warning"
	sevInfo     = "info"
)

// finding is one thing `izwi doctor` reports: what, how bad, what to do.
type finding struct {
	Severity string `json:"severity"`
	Check    string `json:"check"`
	Message  string `json:"message"`
	Advice   string `json:"advice"`
}

// doctorEnv is what the checks look at; tests build one over temp dirs.
type doctorEnv struct {
	cfg       config.Config
	lookupEnv func(string) (string, bool)
	now       time.Time
	euid      int
	// catalog is the model catalogue to judge installed models by; nil
	// means the embedded one (tests pass one with an unpinned entry).
	catalog *models.Catalog
}

func runDoctor(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("doctor", c.stderr)
	cf := addConfigFlags(fs)
	asJSON := fs.Bool("json", false, "print findings as a JSON array")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	// Load without Validate: an invalid config is itself a finding.
	cfg, _, err := config.Load(config.Source{Path: cf.path, LookupEnv: os.LookupEnv})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi doctor: %v\n", err)
		return exitUsage
	}
	if cf.set("data-dir") {
		cfg.Data.Dir = cf.dataDir
	}
	if cf.set("models-dir") {
		cfg.Data.ModelsDir = cf.modelsDir
	}
	env := doctorEnv{cfg: cfg, lookupEnv: os.LookupEnv, now: time.Now(), euid: os.Geteuid()}
	found := env.run(ctx)
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(found); err != nil {
			return exitFailure
		}
	} else if len(found) == 0 {
		fmt.Fprintln(c.stdout, "izwi doctor: no weak or unsafe settings found")
	} else {
		for _, f := range found {
			fmt.Fprintf(c.stdout, "%-8s %s: %s\n         → %s\n", strings.ToUpper(f.Severity), f.Check, f.Message, f.Advice)
		}
	}
	for _, f := range found {
		if f.Severity != sevInfo {
			return exitFailure
		}
	}
	return exitOK
}

// run applies every check and returns the findings, worst first.
func (e doctorEnv) run(ctx context.Context) []finding {
	var out []finding
	if err := e.cfg.Validate(); err != nil {
		out = append(out, finding{sevCritical, "config", oneLineErr(err), "fix the configuration; `izwi serve` refuses to start with it"})
	}
	e.cfg = e.cfg.Defaults()
	for _, check := range []func(context.Context) []finding{e.checkListeners, e.checkTLS, e.checkAuth, e.checkFiles,
		e.checkAdminMFA, e.checkModels, e.checkTelemetry, e.checkSecretsInEnv, e.checkProcess, e.checkBus} {
		out = append(out, check(ctx)...)
	}
	rank := map[string]int{sevCritical: 0, sevWarning: 1, sevInfo: 2}
	slices.SortStableFunc(out, func(a, b finding) int { return cmp.Compare(rank[a.Severity], rank[b.Severity]) })
	return out
}

func (e doctorEnv) checkListeners(context.Context) []finding {
	var out []finding
	s := e.cfg.Server
	for _, l := range []struct{ key, addr, defPort string }{{"server.listen", s.Listen, "8080"}, {"server.admin_listen", s.AdminListen, "8081"}} {
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil || netpolicy.LoopbackHost(host) {
			continue
		}
		if !e.cfg.TLS.Enabled() {
			out = append(out, finding{sevCritical, "plain-http", fmt.Sprintf("%s %s serves plain HTTP off loopback: audio, transcripts and keys cross the network unencrypted", l.key, l.addr),
				"set [tls] mode = \"self_signed\", \"files\" or \"acme\", or listen on 127.0.0.1 behind a TLS proxy"})
		}
		if l.key == "server.admin_listen" {
			out = append(out, finding{sevWarning, "admin-exposed", fmt.Sprintf("the admin console listens on %s, reachable from the network", l.addr),
				"keep server.admin_listen on 127.0.0.1 and reach it through an SSH tunnel or VPN"})
		}
		if port == l.defPort {
			out = append(out, finding{sevWarning, "default-port", fmt.Sprintf("%s uses the default port %s on a non-loopback address", l.key, port),
				"pick another port so internet-wide scans for Izwi's defaults do not find it first"})
		}
	}
	return out
}

func (e doctorEnv) checkTLS(context.Context) []finding {
	t := e.cfg.TLS
	var out []finding
	if t.Enabled() && !t.HSTSEnabled() {
		out = append(out, finding{sevWarning, "hsts-off", "TLS is on but HSTS is off, so a browser can be downgraded to plain HTTP",
			"set [tls] hsts = true"})
	}
	certFile := t.CertFile
	if t.Mode == config.TLSSelfSigned {
		certFile, _ = tlsconf.SelfSignedPaths(e.cfg.Data.Dir)
		out = append(out, finding{sevInfo, "self-signed", "clients must pin the self-signed certificate's fingerprint (printed at start-up)",
			"for browsers on the internet, use mode = \"acme\" or a certificate from your CA"})
	}
	if certFile == "" {
		return out
	}
	if leaf, err := readLeaf(certFile); err == nil {
		switch left := leaf.Sub(e.now); {
		case left <= 0:
			out = append(out, finding{sevCritical, "cert-expired", certFile + " has expired", "renew the certificate; clients will refuse it"})
		case left < 30*24*time.Hour:
			out = append(out, finding{sevWarning, "cert-expiring", fmt.Sprintf("%s expires in %d days", certFile, int(left.Hours()/24)), "renew it now"})
		}
	}
	return out
}

func (e doctorEnv) checkAuth(context.Context) []finding {
	var out []finding
	if a := e.cfg.Auth; a.RequireAuth != nil && !*a.RequireAuth {
		out = append(out, finding{sevCritical, "auth-off", "auth.require_auth = false: the API answers without credentials",
			"remove auth.require_auth or set it to true"})
	}
	if ad := e.cfg.Admin; ad.Argon2MemoryKiB < 19456 || ad.Argon2Iterations < 2 || ad.Argon2Parallelism < 1 {
		out = append(out, finding{sevWarning, "argon2-weak", fmt.Sprintf("admin argon2id m=%d KiB t=%d p=%d is below OWASP's m=19456 t=2 p=1",
			ad.Argon2MemoryKiB, ad.Argon2Iterations, ad.Argon2Parallelism), "raise [admin] argon2_memory_kib / argon2_iterations"})
	}
	for _, iss := range e.cfg.JWT.Issuers {
		for _, k := range iss.Keys {
			if !strings.HasPrefix(k.Alg, "HS") || k.SecretFile == "" {
				continue
			}
			sec, err := secrets.ReadFile(k.SecretFile)
			if err == nil && sec.Len() < 32 {
				out = append(out, finding{sevCritical, "jwt-hmac-short", fmt.Sprintf("the %s secret for issuer %s is %d bits; RFC 8725 and Izwi need at least 256",
					k.Alg, iss.Issuer, sec.Len()*8), "generate one with `head -c 32 /dev/urandom > FILE && chmod 600 FILE`"})
			}
		}
	}
	// The JWT and limit packages know their own unsafe settings.
	for _, w := range jwt.Warnings(e.cfg.JWT) {
		out = append(out, finding{sevWarning, "jwt", w, "see the [jwt] section of izwi.example.toml"})
	}
	for _, w := range limit.Warnings(e.cfg.Limits) {
		out = append(out, finding{sevWarning, "limits", w, "see the [limits] section of izwi.example.toml"})
	}
	for _, f := range vault.Findings(e.cfg.Vault, e.cfg.Data.Database) {
		sev := sevWarning
		if f.Severity == "info" {
			sev = sevInfo
		}
		out = append(out, finding{sev, "vault", f.Message, "see the [vault] section of izwi.example.toml and docs/privacy.md"})
	}
	for _, f := range audit.Findings(e.cfg.Audit, e.cfg.Data.Database) {
		sev := sevWarning
		if f.Severity == "info" {
			sev = sevInfo
		}
		out = append(out, finding{sev, "audit", f.Message, "see the [audit] section of izwi.example.toml"})
	}
	return out
}

// checkFiles looks for secrets and data other users can read or change.
func (e doctorEnv) checkFiles(context.Context) []finding {
	var out []finding
	keys := []string{e.cfg.Auth.PepperFile, e.cfg.Audit.SignerKeyPath, e.cfg.Audit.PseudonymKeyPath, e.cfg.Telemetry.ScrapeTokenFile,
		e.cfg.Engines.Deepgram.APIKeyFile}
	switch e.cfg.TLS.Mode {
	case config.TLSFiles:
		keys = append(keys, e.cfg.TLS.KeyFile)
	case config.TLSSelfSigned:
		_, k := tlsconf.SelfSignedPaths(e.cfg.Data.Dir)
		keys = append(keys, k)
	}
	for _, iss := range e.cfg.JWT.Issuers {
		for _, k := range iss.Keys {
			keys = append(keys, k.SecretFile)
		}
	}
	if db := sqliteFile(e.cfg.Data); db != "" {
		keys = append(keys, db, db+"-wal", db+"-shm") // keys, usage and audit records
	} else {
		keys = append(keys, e.cfg.Data.DatabaseFile) // PostgreSQL: the DSN, password included
	}
	for _, p := range keys {
		if p == "" {
			continue
		}
		if err := secrets.CheckFile(p); errors.Is(err, secrets.ErrLoosePermissions) {
			out = append(out, finding{sevCritical, "file-permissions", oneLineErr(err), "restrict it to the user izwi runs as"})
		}
	}
	for _, d := range []struct{ path, what string }{{e.cfg.Data.Dir, "data directory"}, {filepath.Join(e.cfg.Data.Dir, "tls"), "TLS directory"},
		{e.cfg.TLS.ACMECacheDir, "ACME cache"}} {
		if fi, err := os.Stat(d.path); err == nil && fi.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, finding{sevWarning, "dir-permissions", fmt.Sprintf("%s %s has mode %#o: other users can list or enter it", d.what, d.path, fi.Mode().Perm()),
				fmt.Sprintf("run `chmod 700 %s`", d.path)})
		}
	}
	// Models are public downloads, so reading them is harmless; writing is
	// not: a swapped model runs inside the native runtime.
	if fi, err := os.Stat(e.cfg.Data.ModelsDir); err == nil && fi.Mode().Perm()&0o022 != 0 {
		out = append(out, finding{sevCritical, "models-writable", fmt.Sprintf("models directory %s has mode %#o: other users can replace models", e.cfg.Data.ModelsDir, fi.Mode().Perm()),
			fmt.Sprintf("run `chmod go-w %s`", e.cfg.Data.ModelsDir)})
	}
	return out
}

// checkAdminMFA reads the admin tables (read-only) when they exist, in
// SQLite or PostgreSQL.
func (e doctorEnv) checkAdminMFA(ctx context.Context) []finding {
	db, exists, err := e.openAdminTables(ctx)
	if err != nil {
		return []finding{{sevInfo, "admin-mfa", "could not open the database to check MFA: " + oneLineErr(err), "run izwi doctor as the user izwi runs as"}}
	}
	if db == nil {
		return nil // nothing set up yet
	}
	defer db.Close()
	if !exists {
		return nil // the admin component has not created its tables
	}
	var admins, withMFA int
	err = db.QueryRowContext(ctx, `SELECT count(*), count(totp_secret) FROM admin_users WHERE role = 'admin' AND disabled = 0`).Scan(&admins, &withMFA)
	switch {
	case err != nil:
		return []finding{{sevInfo, "admin-mfa", "could not check MFA: " + oneLineErr(err), "check the admin console's users by hand"}}
	case admins == 0:
		return []finding{{sevInfo, "admin-mfa", "no admin user exists yet", "complete first-run setup with the one-time token printed by `izwi serve`"}}
	case withMFA < admins:
		return []finding{{sevWarning, "admin-mfa", fmt.Sprintf("%d of %d active admin users have no TOTP MFA", admins-withMFA, admins),
			"enrol TOTP for every admin user in the admin console"}}
	}
	return nil
}

// openAdminTables opens the configured database without migrating or
// writing anything (a SQLite file read-only; a PostgreSQL session in
// read-only mode), and says whether the admin tables exist. A SQLite file
// that does not exist yet is no database (nil).
func (e doctorEnv) openAdminTables(ctx context.Context) (*sql.DB, bool, error) {
	var db *sql.DB
	var err error
	exists := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'admin_users'"
	if path := sqliteFile(e.cfg.Data); path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, false, nil
		}
		db, err = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(2000)")
	} else {
		var dsn string
		if dsn, err = e.cfg.Data.DatabaseName(); err != nil {
			return nil, false, err
		}
		cfg, perr := pgx.ParseConfig(dsn)
		if perr != nil {
			return nil, false, errors.New("the postgres DSN does not parse") // pgx's message may quote the password
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		db = stdlib.OpenDB(*cfg)
		exists = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'admin_users'"
	}
	if err != nil {
		return nil, false, err
	}
	var n int
	if err := db.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		db.Close()
		return nil, false, err
	}
	return db, n > 0, nil
}

// checkModels reports installed models whose files have no pinned hash
// (trusted on first use), without hashing anything.
func (e doctorEnv) checkModels(context.Context) []finding {
	cat := e.catalog
	if cat == nil {
		var err error
		if cat, err = models.Default(); err != nil {
			return nil
		}
	}
	var names []string
	for _, m := range cat.Models {
		if m.SystemDir != "" {
			continue
		}
		for _, f := range m.Files {
			if _, err := os.Stat(filepath.Join(e.cfg.Data.ModelsDir, m.Name, filepath.FromSlash(f.Path))); err == nil && !f.Verified {
				names = append(names, m.Name)
				break
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []finding{{sevWarning, "unpinned-models", "installed models without a pinned SHA-256 (trusted on first use): " + strings.Join(names, ", "),
		"compare their .izwi-lock.json hashes with a trusted copy, or prefer pinned models (`izwi models`)"}}
}

func (e doctorEnv) checkTelemetry(context.Context) []finding {
	t := e.cfg.Telemetry
	var out []finding
	if t.MetricsEnabled {
		tok, _, err := secrets.Source{LookupEnv: e.lookupEnv}.Resolve("metrics_scrape_token", t.ScrapeTokenFile)
		switch {
		case errors.Is(err, secrets.ErrNotSet):
			out = append(out, finding{sevInfo, "metrics-guard", "/metrics is readable by admins only (no scrape token)",
				"set scrape_token_file for Prometheus; never expose /metrics without a guard"})
		case err != nil:
			out = append(out, finding{sevCritical, "metrics-guard", "the scrape token cannot be read, so /metrics has no token guard: " + oneLineErr(err), "fix the token file"})
		case tok.Len() < 32:
			out = append(out, finding{sevWarning, "metrics-guard", fmt.Sprintf("the scrape token is %d characters; guessable tokens leave /metrics unguarded", tok.Len()),
				"use at least 32 random characters: `openssl rand -hex 32`"})
		}
	}
	if ep := t.Traces.OTLPEndpoint; strings.HasPrefix(ep, "http://") {
		host := strings.TrimPrefix(ep, "http://")
		if h, _, err := net.SplitHostPort(strings.SplitN(host, "/", 2)[0]); err == nil {
			host = h
		}
		if !netpolicy.LoopbackHost(host) {
			out = append(out, finding{sevWarning, "traces-plaintext", "traces go to " + ep + " over plain HTTP", "use an https:// collector or one on loopback"})
		}
	}
	return out
}

// checkSecretsInEnv flags secrets passed as plain environment variables:
// `docker inspect` and /proc/<pid>/environ show them.
func (e doctorEnv) checkSecretsInEnv(context.Context) []finding {
	var out []finding
	for _, name := range []string{"metrics_scrape_token", "jwt_hmac_secret", "admin_password", "pepper", "vault_passphrase", "vault_new_passphrase", "vault_key", "vault_new_key", "bus_nkey"} {
		if v, ok := e.lookupEnv(secrets.EnvName(name)); ok && v != "" {
			out = append(out, finding{sevWarning, "secret-in-env", secrets.EnvName(name) + " holds a secret in the environment, visible to `docker inspect` and /proc",
				"use " + secrets.EnvName(name) + "_FILE, a Docker secret or a systemd credential instead"})
		}
	}
	return out
}

func (e doctorEnv) checkProcess(context.Context) []finding {
	if e.euid == 0 {
		return []finding{{sevWarning, "root", "izwi runs as root, so a flaw in a native engine would own the machine",
			"run it as an unprivileged user that owns only the data directory"}}
	}
	return nil
}

// readLeaf returns the NotAfter of the first certificate in a PEM file.
func readLeaf(path string) (time.Time, error) {
	info, err := tlsconf.ReadCertificate(path)
	if err != nil {
		return time.Time{}, err
	}
	return info.NotAfter, nil
}

// oneLineErr flattens a joined error for one-line output.
func oneLineErr(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
