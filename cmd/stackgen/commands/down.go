package commands

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/runner"
	"github.com/stackgen/stackgen/stack"
)

func init() { register(newDownCmd) }

func newDownCmd() *cobra.Command {
	var (
		file, out string
		volumes   bool
	)
	c := &cobra.Command{
		Use:   "down [-f stack.yaml] [-o DIR] [--volumes]",
		Short: "Stop and remove the stack's containers (data volumes are kept unless --volumes)",
		Long: `down stops and removes the stack's containers and network. The Prometheus,
Grafana and Alertmanager data volumes are kept, so the next 'stackgen up'
starts with the earlier data; --volumes removes them too.

down works from the rendered compose.yaml in the deploy folder; when that is
gone it removes the containers by their compose project label (the stack name).

Exit codes: 0 done; 1 failure; 3 no Docker engine; 4 no compose.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext(cmd)
			defer stop()
			dir, name, loadErr := deployDir(file, out)
			err := runner.Down(ctx, runner.DownOptions{Dir: dir, Project: name, Volumes: volumes, Out: cmd.ErrOrStderr()})
			if err != nil {
				return withLoadErr(err, loadErr)
			}
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&out, "output", "o", "", "deploy folder (default: deploy/ beside stack.yaml)")
	c.Flags().BoolVar(&volumes, "volumes", false, "also remove the data volumes (Prometheus, Grafana, Alertmanager)")
	return c
}

// deployDir finds the deploy folder and the stack name for down and status.
// They must work even when stack.yaml no longer validates (or is gone): the
// name then comes from the rendered compose.yaml, and loadErr says why
// stack.yaml could not help.
func deployDir(file, out string) (dir, name string, loadErr error) {
	s, err := stack.Load(file)
	if err == nil {
		name = s.Name
		if out == "" {
			out = s.DefaultDeployDir()
		}
	} else if out == "" {
		out = filepath.Join(filepath.Dir(file), "deploy")
	}
	return out, name, err
}

// withLoadErr adds why stack.yaml gave no stack name to a runner error.
func withLoadErr(err, loadErr error) error {
	if loadErr == nil {
		return runnerExit(err)
	}
	return &ExitError{Code: runner.Code(err), Err: fmt.Errorf("%w\n(%s could not name the stack either: %v)", err, "stack.yaml", firstLine(loadErr))}
}

// firstLine is the first line of err's message.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
