package commands

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/compose"
	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newRenderCmd) }

// Exit code of commands that stop because stack.yaml has problems.
const exitInvalid = 2

func newRenderCmd() *cobra.Command {
	var file, out string
	c := &cobra.Command{
		Use:   "render",
		Short: "Validate stack.yaml and render every file of the stack into a folder",
		Long: `render validates stack.yaml, renders compose.yaml, the Prometheus, Grafana,
alerting and TF Serving files, checks them with the parsers that will read
them (compose-go's loader, Prometheus' rule parser, Grafana's provisioning
rules), writes them into a temporary folder, then moves them into the output
folder (default: deploy/ beside stack.yaml). On any error nothing is written;
problems in stack.yaml exit with code 2. Secrets are not needed to render.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, dir, err := loadAndRender(file, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rendered stack %q (%d models) into %s\n", s.Name, len(s.Models), dir)
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&out, "output", "o", "", "output folder (default: deploy/ beside stack.yaml)")
	return c
}

// loadAndRender loads stack.yaml, checks it fully (see checkStack, secrets
// excepted) and renders it into out (or its default folder), returning the
// stack and the folder written. Problems in stack.yaml exit with exitInvalid
// and nothing is written.
func loadAndRender(file, out string) (*stack.Stack, string, error) {
	return loadCheckWrite(file, out, nil)
}

// loadForUp is loadAndRender for commands that start the stack: the secrets
// the stack needs (stack.CheckSecrets, from the environment) must be present
// too, so nothing is written or started when one is missing.
func loadForUp(file, out string) (*stack.Stack, string, error) {
	return loadCheckWrite(file, out, os.Getenv)
}

// loadCheckWrite loads and checks stack.yaml (with secrets from getenv
// unless it is nil), then writes the deploy folder.
func loadCheckWrite(file, out string, getenv func(string) string) (*stack.Stack, string, error) {
	s, out, probs, err := checkStack(file, out, getenv)
	if err != nil {
		return nil, "", err
	}
	if len(probs) > 0 {
		return nil, "", &ExitError{Code: exitInvalid, Err: fmt.Errorf("%s has %d problem(s); nothing was written:\n%w", file, len(probs), probs)}
	}
	res, err := render.Apply(s, out)
	if err != nil {
		return nil, "", fmt.Errorf("render %s: %w", file, err)
	}
	// Tell the user what re-rendering left alone or removed: files of
	// theirs are kept, never silently deleted.
	for _, w := range res.Warnings() {
		fmt.Fprintln(os.Stderr, "stackgen:", w)
	}
	return s, out, nil
}

// checkStack runs every check render and up would hit, without writing
// anything: stack.yaml's own validation (stack.Load), then the stack rendered
// in memory for out (default deploy/ beside stack.yaml) and each rendered
// file read back by the parser that will consume it, then (when getenv is
// not nil) the secrets. Problems are returned as stack.Problems; err is any
// other failure (I/O, a renderer error).
func checkStack(file, out string, getenv func(string) string) (*stack.Stack, string, stack.Problems, error) {
	s, err := loadStack(file)
	if err != nil {
		var probs stack.Problems
		if errors.As(err, &probs) {
			return nil, "", probs, nil
		}
		return nil, "", nil, err
	}
	if out == "" {
		out = s.DefaultDeployDir()
	}
	files, err := render.Render(s, out)
	if err != nil {
		return nil, "", nil, fmt.Errorf("render %s: %w", file, err)
	}
	probs := checkRendered(s, out, files)
	if getenv != nil {
		probs = append(probs, s.CheckSecrets(getenv)...)
	}
	return s, out, probs, nil
}

// checkRendered reads the rendered files back with the parsers of the
// programs that will load them. The prometheus.yml check is left to the
// tests (prometheus package: Prometheus' config.Load and promtool): linking
// Prometheus' config package would pull the AWS, Azure, GCP and Kubernetes
// SDKs of its service discovery into this binary (measured: 452 → 803
// packages in the build, 263 of the new ones cloud SDK or k8s.io).
func checkRendered(s *stack.Stack, out string, files render.Files) stack.Problems {
	var probs stack.Problems
	add := func(err error) {
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			probs = append(probs, stack.Problem{File: s.File, Message: "rendered " + line})
		}
	}
	add(compose.Check(files, out, s.Name))
	add(alerting.CheckPrometheusRules(files))
	if s.Grafana.IsEnabled() && s.Alerting.Engine == stack.EngineGrafana {
		add(alerting.CheckGrafana(files, []string{stack.GrafanaDatasourceUID}))
	}
	return probs
}
