package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/captionfilter"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/retention"
	"github.com/izwi-speech/izwi/internal/schedule"
	"github.com/izwi-speech/izwi/internal/speakers"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/translate/livetranslate"
	"github.com/izwi-speech/izwi/internal/vault"
)

const migrateUsage = `usage: izwi migrate (--to DSN | --to-file FILE) [flags]

Copies the configured SQLite database (data.database) into an empty
PostgreSQL database, in one transaction: keys, usage, sessions, the vault's
wrapped keys and sealed data, consent, speakers, retention, caption outputs and the audit
chain, byte for byte, so izwi audit verify passes against the copy and the
vault opens what it sealed. The data directory (vault master key, audit
signing key and checkpoints, pepper) stays where it is: processes using the
PostgreSQL database use it too. A target that already holds rows is refused,
so running it twice copies once. Stop izwi serve first.

Afterwards set data.database_file (or data.database, for a DSN without a
password) to the target and start izwi serve.

flags:
`

// schemas are every component's migrations, run on both sides so the copy
// goes between equal schemas. A component that stores must be listed here:
// store.Copy refuses a source component the target lacks, and
// TestMigrateSQLiteToPostgres migrates a database izwi serve has made.
var schemas = []func(context.Context, *store.Store) error{
	auth.Migrate, audit.Migrate, limit.Migrate, vault.Migrate, consent.Migrate,
	speakers.Migrate, retention.Migrate, admin.Migrate, live.Migrate, schedule.Migrate, captionfilter.Migrate,
	livetranslate.Migrate, outputs.Migrate,
}

// runMigrate is `izwi migrate`.
func runMigrate(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("migrate", c.stderr)
	cf := addConfigFlags(fs)
	to := fs.String("to", "", "the PostgreSQL DSN to copy into (postgres://...; no password: use --to-file)")
	toFile := fs.String("to-file", "", "a file holding the DSN, password included (owner-only)")
	fs.Usage = func() { fmt.Fprint(c.stderr, migrateUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil || len(pos) != 0 || (*to == "") == (*toFile == "") {
		fs.Usage()
		return exitUsage
	}
	target := config.Data{Database: *to, DatabaseFile: *toFile}
	if err := target.Validate(); err != nil || (*to != "" && !store.IsDSN(*to)) {
		fmt.Fprintln(c.stderr, "izwi migrate: --to wants a postgres:// DSN without a password; give one with a password in --to-file")
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: %v\n", err)
		return exitUsage
	}
	if sqliteFile(cfg.Data) == "" {
		fmt.Fprintln(c.stderr, "izwi migrate: data.database is not a SQLite file; migrate copies from SQLite to PostgreSQL")
		return exitUsage
	}
	src, err := openStore(ctx, cfg.Data)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: %v\n", err)
		return exitFailure
	}
	defer src.Close()
	dst, err := openStore(ctx, target)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: %v\n", err)
		return exitFailure
	}
	defer dst.Close()
	if !store.IsDSN(dst.Where()) {
		fmt.Fprintln(c.stderr, "izwi migrate: the target is not a postgres:// DSN")
		return exitUsage
	}
	for _, st := range []*store.Store{src, dst} {
		for _, m := range schemas {
			if err := m(ctx, st); err != nil {
				fmt.Fprintf(c.stderr, "izwi migrate: %s: %v\n", st.Where(), err)
				return exitFailure
			}
		}
	}
	copied, err := store.Copy(ctx, src, dst)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: %v\n", err)
		return exitFailure
	}
	// The copy is an audited action, recorded on the copied chain.
	details := map[string]string{"from": "sqlite"}
	var rows int64
	for t, n := range copied {
		rows += n
		details["rows_"+t] = strconv.FormatInt(n, 10)
	}
	alog, err := openAuditTool(ctx, dst, cfg, logger)
	if err == nil {
		err = alog.Record(ctx, audit.Event{Actor: "system:cli", Action: "store.migrate", Outcome: audit.OutcomeOK, Details: details})
		if cerr := alog.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi migrate: copied, but the audit entry failed: %v\n", err)
		return exitFailure
	}
	tables := make([]string, 0, len(copied))
	for t := range copied {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		fmt.Fprintf(c.stdout, "%-28s %d\n", t, copied[t])
	}
	fmt.Fprintf(c.stdout, "copied %d rows in %d tables from %s to %s\n", rows, len(copied), src.Where(), dst.Where())
	return exitOK
}
