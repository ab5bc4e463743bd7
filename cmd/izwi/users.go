package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/vault"
)

const usersUsage = `usage: izwi users COMMAND [flags] [NAME]

Admin-console users in the configured database. Every change is written to
the audit log (actor "system:cli") and fails if it cannot be.

commands:
  list                          show users, roles, MFA and state
  create NAME --role ROLE       add a user (admin or operator)
  disable NAME | enable NAME    disabling ends every session of the user at once
  set-role NAME --role ROLE     change a role (ends the user's sessions)
  reset-password NAME           set a new password; ends sessions and clears a
                                lockout; MFA stays on (a reset never bypasses it)
  unlock NAME                   clear the failed-login counter of a locked account
  logout NAME                   end every console session of the user now
  reset-mfa NAME                remove a lost second factor (the user enrols again)

Passwords are read from the terminal without echo (asked twice), or from the
first line of standard input when it is not a terminal; never from arguments.
They need at least 12 characters and must not be on the shipped list of
common or breached passwords.

flags:
`

// runUsers is `izwi users ...`.
func runUsers(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("users", c.stderr)
	cf := addConfigFlags(fs)
	role := fs.String("role", "", "admin or operator (create, set-role)")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	fs.Usage = func() { fmt.Fprint(c.stderr, usersUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) == 0 {
		fs.Usage()
		return exitUsage
	}
	sub, rest := pos[0], pos[1:]
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(rest) != want {
		fmt.Fprintf(c.stderr, "izwi users %s: want %d argument(s), got %d\n", sub, want, len(rest))
		return exitUsage
	}
	cfg, _, err := loadConfig(cf, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.Log.Level)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
		return exitUsage
	}
	db, err := openStore(ctx, cfg.Data)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
		return exitFailure
	}
	defer db.Close()
	// list changes nothing, so it does not open (and append to) the audit log.
	var rec audit.Recorder = readOnly{}
	var txRec vault.TxRecorder = readOnly{}
	if sub != "list" {
		alog, err := openAuditTool(ctx, db, cfg, logger)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
			return exitFailure
		}
		defer alog.Close()
		rec, txRec = alog, alog
	}
	keyring, err := openVault(ctx, cfg, db, txRec, logger)
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
		return exitFailure
	}
	svc, err := admin.NewService(ctx, admin.Options{Store: db, Audit: rec, Logger: telemetry.Component(logger, "admin"), Vault: keyring,
		Settings: admin.SettingsFrom(cfg.Admin)})
	if err != nil {
		fmt.Fprintf(c.stderr, "izwi users: %v\n", err)
		return exitFailure
	}
	const who = "system:cli"
	name := ""
	if len(rest) == 1 {
		name = rest[0]
	}
	switch sub {
	case "list":
		users, err := svc.Users(ctx)
		if err != nil {
			return usersFail(c, sub, err)
		}
		if users == nil {
			users = []admin.User{}
		}
		if *asJSON {
			writeJSON(c.stdout, map[string][]admin.User{"users": users})
			return exitOK
		}
		printUsers(c.stdout, users)
	case "create", "set-role":
		r, err := admin.ParseRole(*role)
		if err != nil {
			fmt.Fprintf(c.stderr, "izwi users %s: --role: %v\n", sub, err)
			return exitUsage
		}
		if sub == "set-role" {
			if err := svc.SetRole(ctx, who, "", name, r); err != nil {
				return usersFail(c, sub, err)
			}
			fmt.Fprintf(c.stderr, "%s is now %s; their sessions ended\n", name, r)
			break
		}
		pw, err := readNewPassword(c, svc, name)
		if err != nil {
			return usersFail(c, sub, err)
		}
		if _, err := svc.CreateUser(ctx, who, "", name, r, pw); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "created %s (%s); they can log in to the admin console and should turn on two-factor authentication\n", name, r)
	case "disable", "enable":
		if err := svc.SetDisabled(ctx, who, "", name, sub == "disable"); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "%sd %s\n", sub, name)
	case "reset-password":
		pw, err := readNewPassword(c, svc, name)
		if err != nil {
			return usersFail(c, sub, err)
		}
		if err := svc.ResetPassword(ctx, who, "", name, pw); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "password of %s reset; their sessions ended; two-factor authentication, if on, is still required\n", name)
	case "unlock":
		if err := svc.Unlock(ctx, who, "", name); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "unlocked %s\n", name)
	case "logout":
		if err := svc.RevokeSessions(ctx, who, "", name); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "ended every session of %s\n", name)
	case "reset-mfa":
		if err := svc.AdminRevokeMFA(ctx, who, "", name); err != nil {
			return usersFail(c, sub, err)
		}
		fmt.Fprintf(c.stderr, "removed the second factor of %s; their sessions ended\n", name)
	default:
		fmt.Fprintf(c.stderr, "izwi users: unknown command %q\n", sub)
		fs.Usage()
		return exitUsage
	}
	return exitOK
}

// readOnly refuses every audit event: a command holding it cannot change
// anything, because an action that cannot be audited does not happen.
type readOnly struct{}

var _ audit.Recorder = readOnly{}

func (readOnly) Record(context.Context, audit.Event) error {
	return errors.New("users: read-only command")
}

// RecordTx refuses too, so a read-only command cannot shred or rotate.
func (readOnly) RecordTx(context.Context, *store.Tx, audit.Event) error {
	return errors.New("users: read-only command")
}

// usersFail reports err; the user's mistakes exit 2, the rest 1.
func usersFail(c *cli, sub string, err error) int {
	fmt.Fprintf(c.stderr, "izwi users %s: %v\n", sub, err)
	var pe *admin.PolicyError
	if errors.As(err, &pe) || errors.Is(err, admin.ErrNotFound) || errors.Is(err, admin.ErrExists) ||
		errors.Is(err, admin.ErrBadName) || errors.Is(err, admin.ErrLastAdmin) || errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailure
}

// readNewPassword reads a password without echo from a terminal (twice),
// or the first line of a non-terminal stdin, and checks the policy early.
func readNewPassword(c *cli, svc *admin.Service, name string) (string, error) {
	var pw string
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(c.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(c.stderr)
			return string(b), err
		}
		var err error
		if pw, err = read("New password for " + name + ": "); err != nil {
			return "", fmt.Errorf("users: read password: %w", err)
		}
		again, err := read("Again: ")
		if err != nil {
			return "", fmt.Errorf("users: read password: %w", err)
		}
		if again != pw {
			return "", fmt.Errorf("%w: the two passwords differ", errUsage)
		}
	} else {
		line, err := bufio.NewReader(io.LimitReader(c.stdin, 8<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("users: read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", fmt.Errorf("%w: no password on standard input", errUsage)
		}
	}
	return pw, svc.CheckPassword(pw, name)
}

func printUsers(w io.Writer, users []admin.User) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tMFA\tSTATE\tCREATED")
	for _, u := range users {
		mfa, state := "off", "active"
		if u.MFA {
			mfa = "on"
		}
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, mfa, state, u.Created.Format("2006-01-02"))
	}
	tw.Flush()
}
