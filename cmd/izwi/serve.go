package main

import (
	"context"
	"fmt"
)

// runServe is a placeholder until the subcommand lands.
func runServe(ctx context.Context, c *cli, args []string) int {
	fmt.Fprintln(c.stderr, "izwi serve: not implemented yet")
	return exitFailure
}
