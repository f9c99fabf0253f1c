package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stackgen/stackgen/livecheck"
	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newUpCmd) }

func newUpCmd() *cobra.Command {
	var (
		file, out string
		bundleArg string
		timeout   time.Duration
		noBuild   bool
	)
	c := &cobra.Command{
		Use:   "up [-f stack.yaml | --bundle FILE] [-o DIR] [--timeout 3m] [--no-build]",
		Short: "Render the stack and run it on Docker, waiting until every service and scrape target is ready",
		Long: `up renders stack.yaml (as render does), builds the image that runs
stackgen's own services, tagged by content as stackgen:<version>-<hash> (FROM
scratch, from this binary when it is a static Linux build, else from source;
stackgen_image in stack.yaml names another image instead), checks that
published ports are free and images present, runs 'docker compose up -d',
then waits with live progress until every service answers its readiness
check and every Prometheus scrape target is up. It prints the URLs at the end.

Readiness is judged from the moment up started: restarts are counted from
then, and containers that were stopped or killed are started and waited for.
Running up again applies changes: compose recreates only the services whose
configuration (or secret values) changed, and Prometheus and Alertmanager
reload their configuration in place. A configuration either refuses is a
failed up, with the cause.

Exit codes: 0 ready; 1 other failure (a configuration Prometheus or
Alertmanager refuses; compose or build errors); 2 stack.yaml invalid; 3 no
Docker engine; 4 no compose; 5 a port in use; 6 an image missing; 7 a service
or target not ready (its last log lines and errors are shown).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd)
			defer stop()
			if bundleArg != "" {
				// up --bundle FILE [-o DIR]: verify, extract into DIR, load
				// the images, then the usual up on the extracted stack.yaml.
				if cmd.Flags().Changed("file") {
					return exitf(exitInvalid, "--bundle and -f exclude each other: the bundle holds its stack.yaml")
				}
				f, err := openBundle(ctx, cmd.ErrOrStderr(), bundleArg, out)
				if err != nil {
					return err
				}
				file, out = f, ""
			}
			// Full validation, secrets from the environment included, before
			// anything is written or started (exit 2).
			s, dir, err := loadForUp(file, out)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			res, err := runner.Up(ctx, runner.UpOptions{
				Dir:           dir,
				Project:       s.Name,
				Timeout:       timeout,
				NoBuild:       noBuild,
				StackgenImage: s.StackgenImage,
				SourceHint:    s.Dir(),
				Out:           stderr,
				TTY:           isTerminal(stderr),
				AfterReady: func(ctx context.Context, prom *runner.Prom) error {
					return liveCheck(ctx, s, prom, stderr)
				},
			})
			if errors.Is(err, context.Canceled) {
				return exitf(runner.ExitFailure, "interrupted; containers compose had created but not started were removed (`stackgen status` shows what runs)")
			}
			if err != nil {
				return runnerExit(err)
			}
			// Grafana has applied the rule deletions render listed: clear them
			// from the manifest (they accumulate until an up succeeds).
			if err := render.MarkApplied(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(stderr, "  warning: %v\n", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "stack %s is up (%.1fs)\n", res.Project, res.Elapsed.Seconds())
			if res.Image != "" {
				fmt.Fprintf(w, "  stackgen image\t%s\n", res.Image)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, e := range res.Endpoints {
				fmt.Fprintf(tw, "  %s\t%s\n", e.Service, e.URL)
			}
			tw.Flush()
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&out, "output", "o", "", "deploy folder to render into and run (default: deploy/ beside stack.yaml); with --bundle, the folder to extract into (default: the stack's name beside the archive)")
	c.Flags().StringVar(&bundleArg, "bundle", "", "verify and extract this .stackgen.tgz (see stackgen bundle), load its images, then run it")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait for every service and scrape target to be ready")
	c.Flags().BoolVar(&noBuild, "no-build", false, "do not build the stackgen image (the one of this binary must exist)")
	return c
}

// liveCheck rules out "No data" at up: every provisioned panel query and
// every alert rule is evaluated against the live Prometheus; one that errors
// or names a metric no target exports fails up (exit 1) naming dashboard,
// panel and query.
func liveCheck(ctx context.Context, s *stack.Stack, prom *runner.Prom, out io.Writer) error {
	if prom == nil {
		return nil
	}
	api, err := prom.API()
	if err != nil {
		return err
	}
	rep, err := livecheck.Check(ctx, api, s)
	if err != nil {
		return &runner.Error{Code: runner.ExitFailure, Err: fmt.Errorf("checking the dashboard queries and alert rules against %s: %w", prom.URL, err)}
	}
	fmt.Fprintf(out, "  queries: %s\n", rep.Summary())
	if err := rep.Err(); err != nil {
		return &runner.Error{Code: runner.ExitFailure, Err: err,
			Fix: "Fix the query in stack.yaml (alerts[].expr) or the metric name, and run `stackgen up` again; `stackgen status` lists the panels that only wait for traffic."}
	}
	return nil
}

// isTerminal reports whether w is a terminal (progress is then redrawn in place).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runnerExit maps a runner error to the process exit code it carries.
func runnerExit(err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: runner.Code(err), Err: err}
}
