package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
)

const keysUsage = `usage:
  izwi keys create --name NAME --scopes asr.read,tts.read [--expires 720h] [--allow-cidr CIDR]... [--deny-cidr CIDR]... [--limits JSON]
  izwi keys list [--json]
  izwi keys revoke ID
  izwi keys rotate ID
Scopes: asr.read, tts.read, chat.read, live.write, live.read, admin.
A new key is printed once, on stdout; it cannot be shown again.`

// listFlag collects a repeatable (or comma-separated) string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// runKeys manages API keys in the configured database; every change is
// written to the audit log with actor "cli".
func runKeys(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(c.stderr, keysUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("keys "+sub, c.stderr)
	cf := addConfigFlags(fs)
	var (
		name, scopes, expires, limits string
		allow, deny                   listFlag
		asJSON                        bool
	)
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "a name to recognise the key by (required)")
		fs.StringVar(&scopes, "scopes", "", "comma-separated scopes (required)")
		fs.StringVar(&expires, "expires", "", "lifetime, e.g. 720h (default: never expires)")
		fs.Var(&allow, "allow-cidr", "only accept the key from these CIDRs (repeatable)")
		fs.Var(&deny, "deny-cidr", "never accept the key from these CIDRs (repeatable)")
		fs.StringVar(&limits, "limits", "", `per-key limits as JSON, e.g. {"rps":5,"burst":10,"max_sessions":2}`)
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	case "revoke", "rotate":
	default:
		fmt.Fprintf(c.stderr, "izwi keys: unknown subcommand %q\n%s\n", sub, keysUsage)
		return exitUsage
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	wantArgs := 0
	if sub == "revoke" || sub == "rotate" {
		wantArgs = 1
	}
	if len(pos) != wantArgs {
		fmt.Fprintf(c.stderr, "izwi keys %s: want %d argument(s), got %d\n%s\n", sub, wantArgs, len(pos), keysUsage)
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi keys: %v\n", err)
		return exitUsage
	}
	var spec auth.KeySpec
	if sub == "create" {
		req := auth.CreateRequest{Name: name, ExpiresIn: expires, AllowCIDRs: allow, DenyCIDRs: deny}
		if limits != "" {
			req.Limits = []byte(limits)
		}
		for _, s := range strings.Split(scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				req.Scopes = append(req.Scopes, auth.Scope(s))
			}
		}
		if spec, err = req.Spec(time.Now()); err == nil {
			err = spec.Validate()
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi keys create: %v\n", err)
			return exitUsage
		}
	}
	ks, closeAll, err := openKeyStore(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi keys: %v\n", err)
		return exitFailure
	}
	defer closeAll()
	who := auth.Actor{ID: "cli"}
	switch sub {
	case "create":
		req := auth.CreateRequest{Name: name, ExpiresIn: expires, AllowCIDRs: allow, DenyCIDRs: deny}
		if limits != "" {
			req.Limits = []byte(limits)
		}
		for _, s := range strings.Split(scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				req.Scopes = append(req.Scopes, auth.Scope(s))
			}
		}
		spec, err := req.Spec(time.Now())
		if err == nil {
			err = ks.ValidateSpec(spec)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi keys create: %v\n", err)
			return exitUsage
		}
		k, secret, err := ks.Create(ctx, who, spec)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi keys create: %v\n", err)
			return keysExit(err)
		}
		printNewKey(c, k, secret)
	case "list":
		keys, err := ks.List(ctx)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi keys list: %v\n", err)
			return exitFailure
		}
		if asJSON {
			writeJSON(c.stdout, map[string][]auth.Key{"keys": keys})
			return exitOK
		}
		printKeys(c.stdout, keys, time.Now())
	case "revoke":
		if err := ks.Revoke(ctx, who, pos[0]); err != nil {
			fmt.Fprintf(c.stderr, "izwi keys revoke: %v\n", err)
			return keysExit(err)
		}
		fmt.Fprintf(c.stderr, "revoked %s; it is refused from the next request on\n", pos[0])
	case "rotate":
		k, secret, err := ks.Rotate(ctx, who, pos[0])
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi keys rotate: %v\n", err)
			return keysExit(err)
		}
		fmt.Fprintf(c.stderr, "revoked %s; its replacement:\n", pos[0])
		printNewKey(c, k, secret)
	}
	return exitOK
}

func keysExit(err error) int {
	if errors.Is(err, auth.ErrKeyNotFound) {
		return exitUsage
	}
	return exitFailure
}

// printNewKey prints the key alone on stdout (so it can be captured) and
// the warning and details on stderr.
func printNewKey(c *cli, k auth.Key, secret string) {
	fmt.Fprintln(c.stdout, secret)
	exp := "never"
	if !k.Expires.IsZero() {
		exp = k.Expires.Format(time.RFC3339)
	}
	fmt.Fprintf(c.stderr, "key %s (%q) scopes %s, expires %s\n", k.ID, k.Name, joinScopes(k.Scopes), exp)
	fmt.Fprintln(c.stderr, "WARNING: this key is shown once and cannot be recovered; store it now (a secrets manager, not a shell history).")
}

func joinScopes(s []auth.Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

func printKeys(w io.Writer, keys []auth.Key, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSTATE\tCREATED\tEXPIRES\tLAST USED")
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02")
	}
	for _, k := range keys {
		state := "active"
		switch {
		case !k.Revoked.IsZero() && k.RotatedTo != "":
			state = "rotated→" + k.RotatedTo
		case !k.Revoked.IsZero():
			state = "revoked"
		case !k.Expires.IsZero() && !now.Before(k.Expires):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, joinScopes(k.Scopes), state, day(k.Created), day(k.Expires), day(k.LastUsed))
	}
	tw.Flush()
}

// openKeyStore opens the database, the audit log and the key store for cfg.
func openKeyStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*auth.KeyStore, func(), error) {
	pepper, err := auth.LoadOrCreatePepper(cfg.Auth.PepperFile)
	if err != nil {
		return nil, nil, err
	}
	db, err := openStore(ctx, cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	log, err := openAuditTool(ctx, db, cfg, logger)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	// With an external bus (a cluster), a revocation is announced to every
	// server at once; without one, or with it down, they see it by
	// re-reading (WatchRevocations, within seconds): the change itself
	// never waits for the bus.
	var broker *bus.Bus
	if cfg.Bus.URL != "" {
		bc, berr := busConfig(cfg)
		bc.ReadyTimeout = 2 * time.Second
		if berr != nil {
			err = berr
		} else {
			broker, err = bus.Start(ctx, bc, logger)
		}
		if err != nil {
			broker = nil
			logger.Warn("bus unreachable; servers will see key changes by re-reading", "err", err)
		}
	}
	closeBus := func() {
		if broker != nil {
			_ = broker.Close() // drains: the announcement is sent before exit
		}
	}
	ks, err := auth.NewKeyStore(ctx, db, auth.KeyStoreConfig{Pepper: pepper, Audit: log, EpochFile: keyEpochFile(cfg),
		Announce: announceRevocations(broker), CheckLimits: checkKeyLimits})
	if err != nil {
		closeBus()
		log.Close()
		db.Close()
		return nil, nil, err
	}
	return ks, func() { ks.Close(); closeBus(); log.Close(); db.Close() }, nil
}
