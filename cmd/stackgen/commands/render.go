package commands

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

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
alerting and TF Serving files into a temporary folder, then moves them into the
output folder (default: deploy/ beside stack.yaml). On any error nothing is written.`,
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

// loadAndRender loads stack.yaml and renders it into out (or its default
// folder), returning the stack and the folder written. Problems in stack.yaml
// exit with exitInvalid.
func loadAndRender(file, out string) (*stack.Stack, string, error) {
	s, err := loadStack(file)
	if err != nil {
		var probs stack.Problems
		if errors.As(err, &probs) {
			return nil, "", &ExitError{Code: exitInvalid, Err: fmt.Errorf("%s has %d problem(s); nothing was written:\n%w", file, len(probs), err)}
		}
		return nil, "", err
	}
	if out == "" {
		out = s.DefaultDeployDir()
	}
	if _, err := render.Write(s, out); err != nil {
		return nil, "", fmt.Errorf("render %s: %w", file, err)
	}
	return s, out, nil
}
