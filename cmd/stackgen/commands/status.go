package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/livecheck"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newStatusCmd) }

// panelCheck evaluates the stack's panel queries and alert rules against its
// live Prometheus for status, which lists the panels empty only for lack of
// traffic and counts errors and unknown metrics as unhealthy.
func panelCheck(s *stack.Stack) func(ctx context.Context, prom *runner.Prom) ([]runner.PanelStatus, error) {
	return func(ctx context.Context, prom *runner.Prom) ([]runner.PanelStatus, error) {
		api, err := prom.API()
		if err != nil {
			return nil, err
		}
		rep, err := livecheck.Check(ctx, api, s)
		if err != nil {
			return nil, err
		}
		out := make([]runner.PanelStatus, 0, len(rep.Results))
		for _, r := range rep.Results {
			ps := runner.PanelStatus{Dashboard: r.Dashboard, Panel: r.Panel, Query: r.Query, Result: string(r.Status), Detail: r.Detail}
			if r.Kind == livecheck.KindRule {
				ps.Rule = r.Rule
				if r.Model != "" {
					ps.Rule += " (model " + r.Model + ")"
				}
			}
			out = append(out, ps)
		}
		return out, nil
	}
}

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
   "alerts": [{"name", "state", "labels", "summary", "active_at"}] (null when Prometheus does not answer),
   "panels": [{"dashboard", "panel", "rule", "query", "result", "detail"}],
   "problems": ["why it is not healthy", ...],
   "stackgen": {"version", "commit", "go_version"}}

Panels whose queries return nothing only because no request was served yet
are listed as such ("no_traffic"); they do not make the stack unhealthy.

Exit codes: 0 healthy (every service running and healthy, every target up,
Prometheus answering and running its latest configuration, no panel query
failing); 7 something is not (the reasons are listed); 3 no Docker engine;
4 no compose; 1 other failures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return exitf(exitInvalid, "--output must be text or json (got %q)", format)
			}
			ctx, stop := signalContext(cmd)
			defer stop()
			d, name, loadErr := deployDir(file, dir)
			o := runner.StatusOptions{Dir: d, Project: name}
			if loadErr == nil {
				if s, err := stack.Load(file); err == nil {
					o.Check = panelCheck(s)
				}
			}
			st, err := runner.GetStatus(ctx, o)
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
