package main

import (
	"context"
	"fmt"
)

// runVersion is a placeholder until the subcommand lands.
func runVersion(ctx context.Context, c *cli, args []string) int {
	fmt.Fprintln(c.stderr, "izwi version: not implemented yet")
	return exitFailure
}
