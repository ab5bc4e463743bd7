package main

import (
	"context"
	"fmt"
)

// runModels is a placeholder until the subcommand lands.
func runModels(ctx context.Context, c *cli, args []string) int {
	fmt.Fprintln(c.stderr, "izwi models: not implemented yet")
	return exitFailure
}
