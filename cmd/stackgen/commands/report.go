package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/report"
	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
	"github.com/stackgen/stackgen/version"
)

func init() { register(newReportCmd) }

func newReportCmd() *cobra.Command {
	var file, from, to, out, deploy string
	var open bool
	c := &cobra.Command{
		Use:   "report [-f stack.yaml] [--from -1h] [--to now] [-o report/] [--open]",
		Short: "Write an HTML evidence report: every dashboard panel, alert rule and alert email of the running stack",
		Long: `report writes DIR/index.html (default report/index.html) and one PNG chart
per panel with data beside it: a header (stack, time range, stackgen version,
services with image and health, scrape targets with health), every panel of
every dashboard stackgen renders (the same PromQL, units, thresholds and
legends) drawn from Prometheus' query_range, the alert rules with state,
value and active since, the firing history, and the alert emails the local
mail catcher received in the range. Panels sit on Grafana's grid as in the
dashboards; bar charts are drawn at --to. The page loads nothing from the
network (no script, no web font). It needs only Prometheus (and the mail
catcher for emails): it works with Grafana off.

Alert state and history: with engine prometheus from the ALERTS series at
--to; with engine grafana from Grafana's alerting API (rules endpoint and
alert state history, as the admin user with
STACKGEN_GRAFANA_ADMIN_PASSWORD). When Grafana does not answer, the report
shows each rule's value against its condition ("condition met (0.5 > 0.2)",
"not met (1 ≥ 1)") and says why. A rule's value is its firing instance's
(else the worst series'); a state whose source failed reads "unknown". The
history is max_over_time(ALERTS) at the step: a firing shorter than the step
is listed.

--from and --to take RFC 3339 times, Unix seconds, "now", or a duration
before --to ("-1h", "now-1h"). The same data and a fixed --to give the same
files.

Exit codes: 0 written (the path is printed); 2 stack.yaml invalid or bad
flags; 1 Prometheus does not answer or the report cannot be written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd)
			defer stop()
			s, err := loadStack(file)
			if err != nil {
				var probs stack.Problems
				if errors.As(err, &probs) {
					return &ExitError{Code: exitInvalid, Err: fmt.Errorf("%s has %d problem(s); no report was written:\n%w", file, len(probs), probs)}
				}
				return &ExitError{Code: exitInvalid, Err: err}
			}
			end, err := report.ParseTime(to, time.Now(), time.Now())
			if err != nil {
				return exitf(exitInvalid, "--to: %v", err)
			}
			start, err := report.ParseTime(from, end, time.Now())
			if err != nil {
				return exitf(exitInvalid, "--from: %v", err)
			}
			if !start.Before(end) {
				return exitf(exitInvalid, "--from (%s) must be before --to (%s)", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
			}
			promURL := s.PrometheusURL()
			client, err := api.NewClient(api.Config{Address: promURL})
			if err != nil {
				return fmt.Errorf("prometheus client for %s: %w", promURL, err)
			}
			papi := v1.NewAPI(client)
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = papi.Buildinfo(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("Prometheus at %s does not answer (is the stack up? stackgen up -f %s): %w", promURL, file, err)
			}
			o := report.Options{From: start, To: end, API: papi, Version: version.Get().String()}
			if s.MailCatcherEnabled() {
				o.MailURL = s.HostURL(s.SMTP.WebPort)
			}
			o.Grafana, o.GrafanaSkipped = reportGrafana(s, os.Getenv)
			if deploy == "" {
				deploy = s.DefaultDeployDir()
			}
			o.Services, o.ServicesError = reportServices(ctx, deploy, s.Name)
			r, err := report.Collect(ctx, s, o)
			if err != nil {
				return err
			}
			path, err := report.Write(r, out)
			if err != nil {
				return err
			}
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			if open {
				openBrowser(cmd, path)
			}
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVar(&from, "from", "-1h", `start of the range: RFC 3339, Unix seconds, "now" or a duration before --to ("-1h")`)
	c.Flags().StringVar(&to, "to", "now", `end of the range: RFC 3339, Unix seconds or "now"`)
	c.Flags().StringVarP(&out, "output", "o", "report", "folder to write index.html and the charts into")
	c.Flags().StringVar(&deploy, "deploy-dir", "", "deploy folder of the running stack (default: deploy/ beside stack.yaml)")
	c.Flags().BoolVar(&open, "open", false, "open the report in the browser (xdg-open) when there is one")
	return c
}

// reportGrafana is the stack's Grafana for engine grafana's rule states
// and history (its host port, the admin user and
// STACKGEN_GRAFANA_ADMIN_PASSWORD, the variable the stack hands Grafana),
// or why it is not asked.
func reportGrafana(s *stack.Stack, getenv func(string) string) (*report.Grafana, string) {
	if s.Alerting.Engine != stack.EngineGrafana {
		return nil, ""
	}
	if !s.Grafana.IsEnabled() {
		return nil, "Grafana is not part of the stack (grafana.enabled: false)"
	}
	pw := getenv(stack.EnvGrafanaAdminPassword)
	if pw == "" {
		return nil, "not asked: " + stack.EnvGrafanaAdminPassword + " is not set (export the password the stack was started with)"
	}
	return report.NewGrafana(s.GrafanaURL(), s.Grafana.AdminUser, pw), ""
}

// reportServices is the stack's services for the report's header, from the
// runner's status (Docker); without Docker the header says why.
func reportServices(ctx context.Context, dir, name string) ([]report.Service, string) {
	st, err := runner.GetStatus(ctx, runner.StatusOptions{Dir: dir, Project: name})
	if err != nil {
		return nil, err.Error()
	}
	out := make([]report.Service, 0, len(st.Services))
	for _, sv := range st.Services {
		rs := report.Service{Name: sv.Service, State: sv.State, Health: sv.Health}
		if len(sv.Containers) > 0 {
			rs.Image = sv.Containers[0].Image
		}
		out = append(out, rs)
	}
	return out, ""
}

// openBrowser opens path with the desktop's opener (xdg-open on Linux and
// BSD, open on macOS) when there is a display; otherwise, or when the opener
// fails, it says so: the path printed above is the report either way.
func openBrowser(cmd *cobra.Command, path string) {
	if msg := openReport(path, runtime.GOOS, os.Getenv, exec.LookPath, runOpener); msg != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "stackgen: "+msg)
	}
}

// runOpener runs the opener and waits for it (xdg-open returns once the
// browser was handed the file), bounded by 10 s.
func runOpener(bin, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, path).CombinedOutput()
	if err != nil && len(bytes.TrimSpace(out)) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return err
}

// openReport opens path and returns what to tell the user, "" when it was
// opened.
func openReport(path, goos string, getenv func(string) string, lookPath func(string) (string, error), run func(bin, path string) error) string {
	opener := "xdg-open"
	switch goos {
	case "darwin":
		opener = "open"
	case "windows":
		return "--open is not supported on Windows; open the path above by hand"
	default:
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return "--open: no display (DISPLAY and WAYLAND_DISPLAY are unset); open the path above on a machine with a browser"
		}
	}
	bin, err := lookPath(opener)
	if err != nil {
		return "--open: no browser opener (" + opener + ") found; open the path above by hand"
	}
	if err := run(bin, path); err != nil {
		return "--open: " + opener + " failed (" + err.Error() + "); open the path above by hand"
	}
	return ""
}
