package main

import (
	"context"
	"fmt"
)

// runTranscribe is a placeholder until the subcommand lands.
func runTranscribe(ctx context.Context, c *cli, args []string) int {
	fmt.Fprintln(c.stderr, "izwi transcribe: not implemented yet")
	return exitFailure
}
