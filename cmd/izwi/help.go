package main

// izwi help COMMAND, izwi --version, and the man pages and shell completions
// generated from the one command table (commands()) and each command's own
// flag set: a command's flags are read back from its `-h` output, so the
// pages and completions cannot drift from what the command parses.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// runHelp is `izwi help [COMMAND]`.
func runHelp(ctx context.Context, c *cli, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		c.usage(cmds)
		return exitOK
	}
	if len(args) > 1 {
		fmt.Fprintln(c.stderr, "izwi help: want at most one COMMAND")
		return exitUsage
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "izwi help: unknown command %q\n\n", args[0])
		c.usage(cmds)
		return exitUsage
	}
	fmt.Fprintf(c.stdout, "izwi %s: %s\n\n", args[0], cmd.summary)
	if args[0] == "help" {
		fmt.Fprintln(c.stdout, "usage: izwi help [COMMAND]")
		return exitOK
	}
	fmt.Fprint(c.stdout, commandHelp(ctx, args[0], cmd))
	return exitOK
}

// commandHelp returns what `izwi NAME -h` prints: usage text and flags.
func commandHelp(ctx context.Context, name string, cmd command) string {
	if name == "help" {
		return "usage: izwi help [COMMAND]\n"
	}
	var buf bytes.Buffer
	sub := &cli{stdout: io.Discard, stderr: &buf, stdin: strings.NewReader("")}
	cmd.run(ctx, sub, []string{"-h"})
	return buf.String()
}

// flagDoc is one flag as the flag package prints it.
type flagDoc struct {
	name, arg, usage string
}

// flagLineRE matches flag.PrintDefaults' "  -name type" line (the usage
// follows on the same line after a tab for one-letter names).
var flagLineRE = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9._-]*)(?: (\S+))?(?:\t(.*))?$`)

// parseHelp splits a command's -h output into its free text and its flags.
func parseHelp(text string) (prose string, flags []flagDoc) {
	var proseLines []string
	for _, line := range strings.Split(text, "\n") {
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			flags = append(flags, flagDoc{name: m[1], arg: m[2], usage: strings.TrimSpace(m[3])})
			continue
		}
		if strings.HasPrefix(line, "    \t") && len(flags) > 0 {
			f := &flags[len(flags)-1]
			f.usage = strings.TrimSpace(f.usage + " " + strings.TrimSpace(line))
			continue
		}
		if strings.TrimSpace(line) == "flags:" || strings.HasPrefix(line, "Usage of ") {
			continue
		}
		proseLines = append(proseLines, line)
	}
	return strings.TrimSpace(strings.Join(proseLines, "\n")), flags
}

// commandDoc is everything the generators need about one command.
type commandDoc struct {
	name, summary, prose string
	flags                []flagDoc
}

// commandDocs describes every command, sorted by name.
func commandDocs(ctx context.Context) []commandDoc {
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]commandDoc, 0, len(names))
	for _, n := range names {
		prose, flags := parseHelp(commandHelp(ctx, n, cmds[n]))
		out = append(out, commandDoc{name: n, summary: cmds[n].summary, prose: prose, flags: flags})
	}
	return out
}
