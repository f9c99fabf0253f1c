package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/runner"
)

func init() { register(newHealthcheckCmd) }

func newHealthcheckCmd() *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "healthcheck URL",
		Short: "Exit 0 when URL answers 2xx or 3xx (container healthchecks; no curl needed)",
		Long: `healthcheck GETs URL once and exits 0 when it answers with a 2xx or 3xx
status (redirects are not followed), 1 otherwise, printing why. The FROM
scratch stackgen image has no shell or curl; its compose healthchecks run
["CMD", "/stackgen", "healthcheck", "http://127.0.0.1:PORT/PATH"].`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := runner.Probe(ctx, runner.NoRedirectClient(timeout), args[0]); err != nil {
				return exitf(1, "healthcheck %s: %v", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok %s\n", args[0])
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "give up after this long")
	return c
}
