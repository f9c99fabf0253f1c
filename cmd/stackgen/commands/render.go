package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/compose"
	"github.com/stackgen/stackgen/kubernetes"
	"github.com/stackgen/stackgen/render"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newRenderCmd) }

// Exit code of commands that stop because stack.yaml has problems.
const exitInvalid = 2

func newRenderCmd() *cobra.Command {
	var file, out, target string
	c := &cobra.Command{
		Use:   "render",
		Short: "Validate stack.yaml and render every file of the stack into a folder",
		Long: `render validates stack.yaml, renders compose.yaml, the Prometheus, Grafana,
alerting and TF Serving files, checks them with the parsers that will read
them (compose-go's loader, Prometheus' rule parser, Grafana's provisioning
rules), writes them into a temporary folder, then moves them into the output
folder (default: deploy/ beside stack.yaml). On any error nothing is written;
problems in stack.yaml exit with code 2. Secrets are not needed to render.

--target kubernetes (or target: kubernetes in stack.yaml) renders a
kustomize folder for a cluster running kube-prometheus-stack instead
(default: deploy-kubernetes/ beside stack.yaml): per model a Deployment
(model server + exporter), a Service and a ServiceMonitor, the alert rules
as a PrometheusRule (and a grafana_alert ConfigMap for engine grafana),
dashboards as grafana_dashboard ConfigMaps, and kustomization.yaml
(kubectl apply -k DIR). What the target cannot express is reported as
warnings; see docs/kubernetes.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := resolveTarget(target, file)
			if err != nil {
				return err
			}
			if target == stack.TargetKubernetes {
				s, dir, err := renderKubernetes(cmd.ErrOrStderr(), file, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rendered stack %q (%d models) for Kubernetes into %s (kubectl apply -k %s)\n", s.Name, len(s.Models), dir, dir)
				return nil
			}
			s, dir, err := loadAndRender(file, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rendered stack %q (%d models) into %s\n", s.Name, len(s.Models), dir)
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&out, "output", "o", "", "output folder (default: deploy/ beside stack.yaml, or deploy-kubernetes/ for --target kubernetes)")
	addTargetFlag(c, &target)
	return c
}

// addTargetFlag adds --target (render and validate).
func addTargetFlag(c *cobra.Command, target *string) {
	c.Flags().StringVar(target, "target", "", "what to render: compose or kubernetes (default: stack.yaml's target:, else compose)")
}

// resolveTarget is the render target: the --target flag when given (checked
// against stack.Targets; exit 2 otherwise), else stack.yaml's target:.
func resolveTarget(flag, file string) (string, error) {
	if flag == "" {
		return stackTarget(file)
	}
	for _, t := range stack.Targets {
		if flag == t {
			return flag, nil
		}
	}
	return "", exitf(exitInvalid, "--target: must be one of %s (got %q)", strings.Join(stack.Targets, ", "), flag)
}

// stackTarget is stack.yaml's target: when it loads; otherwise compose, so
// the compose path reports the stack's problems exactly as before.
func stackTarget(file string) (string, error) {
	s, err := loadStack(file)
	if err != nil || s.Target == "" {
		return stack.TargetCompose, nil
	}
	return s.Target, nil
}

// DefaultKubernetesDir is render --target kubernetes's output folder beside stack.yaml.
const DefaultKubernetesDir = "deploy-kubernetes"

// checkKubernetes loads stack.yaml and checks it for the kubernetes target:
// problems (stack.yaml's own and what the target needs) and warnings (what it
// cannot express), then renders the manifests in memory.
func checkKubernetes(file string) (*stack.Stack, map[string][]byte, stack.Problems, stack.Problems, error) {
	s, err := loadStack(file)
	if err != nil {
		var probs stack.Problems
		if errors.As(err, &probs) {
			return nil, nil, probs, nil, nil
		}
		return nil, nil, nil, nil, err
	}
	probs, warns := s.KubernetesProblems()
	if len(probs) > 0 {
		return s, nil, probs, warns, nil
	}
	files, err := kubernetes.Render(s)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("render %s: %w", file, err)
	}
	return s, files, nil, warns, nil
}

// renderKubernetes writes the kubernetes target's manifests into out (default
// deploy-kubernetes/ beside stack.yaml) with render's ownership rules
// (temporary folder, then renamed into place; never over files not
// stackgen's). Warnings go to stderr; problems exit with exitInvalid and
// nothing is written.
func renderKubernetes(stderr io.Writer, file, out string) (*stack.Stack, string, error) {
	s, files, probs, warns, err := checkKubernetes(file)
	if err != nil {
		return nil, "", err
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	if len(probs) > 0 {
		return nil, "", &ExitError{Code: exitInvalid, Err: fmt.Errorf("%s has %d problem(s) for --target kubernetes; nothing was written:\n%w", file, len(probs), probs)}
	}
	if out == "" {
		out = filepath.Join(s.Dir(), DefaultKubernetesDir)
	}
	if err := render.WriteFiles(out, files, nil); err != nil {
		return nil, "", fmt.Errorf("render %s: %w", file, err)
	}
	return s, out, nil
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
	s, err := loadStack(file)
	if err == nil && s.Target == stack.TargetKubernetes {
		// up runs Docker Compose; a Kubernetes stack is applied with kubectl.
		return nil, "", &ExitError{Code: exitInvalid, Err: fmt.Errorf("%s: target: kubernetes: up runs the stack on Docker Compose; use 'stackgen render --target kubernetes' and 'kubectl apply -k DIR', or set target: compose", file)}
	}
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
