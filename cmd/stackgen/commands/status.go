package commands

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/runner"
)

func init() { register(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var file, dir, format string
	c := &cobra.Command{
		Use:   "status [-f stack.yaml] [-o DIR] [--output text|json]",
		Short: "Show each service's state and health, Prometheus targets and firing alerts",
		Long: `status shows the stack's services (container state and health), the
Prometheus scrape targets with their health and last error, and the alerts
firing now. --output json prints the same as one JSON object:

  {"project": ..., "compose": ..., "healthy": true,
   "services": [{"service", "state", "health", "containers": [...]}],
   "prometheus": {"url", "targets_up", "targets_total", "targets": [{"job", "instance", "scrape_url", "health", "last_error"}]},
   "alerts": [{"name", "state", "labels", "summary", "active_at"}]}

Exit codes: 0 healthy (every service running and healthy, every target up);
7 something is not; 3 no Docker engine; 4 no compose; 1 other failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return exitf(exitInvalid, "--output must be text or json (got %q)", format)
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			d, name, loadErr := deployDir(file, dir)
			st, err := runner.GetStatus(ctx, runner.StatusOptions{Dir: d, Project: name})
			if err != nil {
				return withLoadErr(err, loadErr)
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return fmt.Errorf("write status: %w", err)
				}
			} else {
				st.WriteText(w)
			}
			if !st.Healthy {
				return &ExitError{Code: runner.ExitUnhealthy, Err: fmt.Errorf("")}
			}
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&dir, "deploy-dir", "o", "", "deploy folder (default: deploy/ beside stack.yaml)")
	c.Flags().StringVar(&format, "output", "text", "output format: text or json")
	return c
}
