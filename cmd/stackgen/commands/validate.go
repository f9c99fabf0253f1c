package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/stack"
)

func init() { register(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	var file, target string
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check stack.yaml and list every problem",
		Long: `validate runs every check that render and up would hit, without writing
or starting anything: stack.yaml's fields (located problems, unknown keys,
ports, intervals, image references, service names, alert templates), the
stack rendered in memory and read back by compose-go's loader, Prometheus'
rule parser and Grafana's provisioning rules, and the secrets the stack needs
(STACKGEN_GRAFANA_ADMIN_PASSWORD when Grafana runs, STACKGEN_SMTP_PASSWORD or
smtp.password_file for an external mail server with a user).

On success it prints a one-line summary and exits 0. Otherwise it prints
every problem on stderr, one per line as FILE:LINE:COL: FIELD: MESSAGE, and
exits 2, like every command given an invalid stack.

With --target kubernetes (or target: kubernetes in stack.yaml) it checks the
stack for the Kubernetes target instead: errors for what the target needs
and the stack lacks, warnings (FILE:LINE:COL: FIELD: ... prefixed with
"warning:") for what it cannot express, such as host ports or the local mail
catcher; warnings alone exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := resolveTarget(target, file)
			if err != nil {
				return err
			}
			if target == stack.TargetKubernetes {
				return validateKubernetes(cmd, file)
			}
			s, _, probs, err := checkStack(file, "", os.Getenv)
			switch {
			case len(probs) > 0:
				for _, p := range probs {
					fmt.Fprintln(cmd.ErrOrStderr(), p.String())
				}
				return exitf(exitInvalid, "%s: %d problem(s)", file, len(probs))
			case errors.Is(err, fs.ErrNotExist):
				return exitf(1, "%w (run 'stackgen init' to write a starter)", err)
			case err != nil:
				return exitf(1, "%w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), summary(file, s))
			return nil
		},
	}
	addStackFlag(c, &file)
	addTargetFlag(c, &target)
	return c
}

// validateKubernetes is validate --target kubernetes.
func validateKubernetes(cmd *cobra.Command, file string) error {
	s, files, probs, warns, err := checkKubernetes(file)
	for _, w := range warns {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
	}
	switch {
	case len(probs) > 0:
		for _, p := range probs {
			fmt.Fprintln(cmd.ErrOrStderr(), p.String())
		}
		return exitf(exitInvalid, "%s: %d problem(s) for --target kubernetes", file, len(probs))
	case errors.Is(err, fs.ErrNotExist):
		return exitf(1, "%w (run 'stackgen init' to write a starter)", err)
	case err != nil:
		return exitf(1, "%w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: OK for kubernetes: namespace %s, %d manifests, %s\n",
		file, s.Kubernetes.Namespace, len(files)-1, plural(len(warns), "warning"))
	return nil
}

// summary is validate's one-line report on a valid stack, e.g.
// "stack.yaml: OK: stack demo, 1 model (demo: demo), 9 alerts, alerting engine grafana".
func summary(file string, s *stack.Stack) string {
	models := make([]string, len(s.Models))
	for i, m := range s.Models {
		models[i] = m.Name + ": " + m.Kind
	}
	// Count the alerts that apply to at least one model: a TF Serving default
	// alert on an MLflow-only stack renders nothing.
	alerts := 0
	for _, a := range s.EffectiveAlerts() {
		if len(s.ModelsFor(a)) > 0 {
			alerts++
		}
	}
	return fmt.Sprintf("%s: OK: stack %s, %s (%s), %s, alerting engine %s",
		file, s.Name, plural(len(s.Models), "model"), strings.Join(models, ", "),
		plural(alerts, "alert"), s.Alerting.Engine)
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
