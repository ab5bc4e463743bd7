// Command izwi is Izwi's single binary: the server (`izwi serve`) and the
// tools around it (transcribe, models, version, ...). This package is the
// composition root: it reads configuration, builds the logger and the speech
// engine registry, and passes them explicitly to everything it starts.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes shared by every subcommand, documented in README.md.
const (
	exitOK       = 0
	exitFailure  = 1 // the operation failed (engine error, network, ...)
	exitUsage    = 2 // bad flags or arguments
	exitInput    = 3 // an input file is unreadable or not audio we can decode
	exitModel    = 4 // a model is missing or fails verification
	exitVerify   = 5 // a signature does not verify (izwi verify)
	exitCanceled = 130
)

// cli is what every subcommand gets: its streams and its arguments.
// Subcommands load configuration themselves (see loadConfig), so that each
// parses only the flags it understands.
type cli struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	// isTTY reports whether stderr is a terminal (progress bars only then).
	isTTY bool
}

// command is one `izwi NAME` subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, c *cli, args []string) int
}

// commands lists every subcommand; each lives in its own file.
func commands() map[string]command {
	return map[string]command{
		"version":    {"print version, commit, engines and library versions", runVersion},
		"serve":      {"start the server", runServe},
		"transcribe": {"transcribe audio files", runTranscribe},
		"models":     {"list, verify, pull or import models", runModels},
		"audit":      {"verify, export or checkpoint the audit log", runAudit},
		"keys":       {"create, list, revoke or rotate API keys", runKeys},
		"users":      {"list, create, disable, reset-password admin-console users", runUsers},
		"doctor":     {"report weak or unsafe settings (exit 1 when any)", runDoctor},
		"vault":      {"show or rotate the privacy vault's master key", runVault},
		"migrate":    {"copy the SQLite database into an empty PostgreSQL one", runMigrate},
		"bus":        {"run a node of a NATS cluster (bus serve) for a multi-process deployment, or make its certificates and NKeys (bus certs)", runBus},
		"speakers":   {"list, enrol, export or erase the people live captions may name", runSpeakers},
		"verify":     {"check a release artifact or catalogue against its minisign signature", runVerify},
		"help":       {"show the commands, or one command's usage and flags", runHelp},
		"man":        {"write the man pages (izwi.1, izwi-COMMAND.1) into a directory", runMan},
		"completion": {"print the bash, zsh or fish completion script", runCompletion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, isTTY: isTerminal(os.Stderr)}
	os.Exit(c.dispatch(ctx, os.Args[1:]))
}

func (c *cli) dispatch(ctx context.Context, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		c.usage(cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		c.usage(cmds)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, c, args[1:])
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "izwi: unknown command %q\n\n", args[0])
		c.usage(cmds)
		return exitUsage
	}
	return cmd.run(ctx, c, args[1:])
}

func (c *cli) usage(cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(c.stderr, "usage: izwi COMMAND [flags] [args]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(c.stderr, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(c.stderr, "\nRun 'izwi help COMMAND' (or 'izwi COMMAND -h') for a command's flags; 'izwi --version' for the version.")
}
