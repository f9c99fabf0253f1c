// Package commands holds the stackgen CLI: one file per command.
package commands

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/version"
)

// constructors holds every registered command constructor. Each command file
// registers its own in an init function, so adding a command touches one file.
var constructors []func() *cobra.Command

// register adds a command constructor to the root command.
func register(c func() *cobra.Command) { constructors = append(constructors, c) }

// ExitError carries a specific process exit code out of a command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// exitf returns an ExitError with the given code and formatted message.
func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// NewRoot builds the root command with every registered subcommand.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "stackgen",
		Short:         "Render and run a monitoring stack for an ML model server from one stack.yaml",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	var cmds []*cobra.Command
	for _, c := range constructors {
		cmds = append(cmds, c())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

// Execute runs the CLI with args and returns the process exit code.
func Execute(args []string) int {
	root := NewRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		err = ee.Err
	}
	if err != nil && err.Error() != "" {
		fmt.Fprintln(os.Stderr, "stackgen:", err)
	}
	if c, ok := interruptedCode(); ok {
		// Interrupted (Ctrl-C, SIGTERM): 128+signal, whatever the command
		// made of its cancelled context.
		return c
	}
	return code
}
