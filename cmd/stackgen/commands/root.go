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
	// A command line cobra refuses (unknown flag, bad flag value, wrong
	// arguments) exits 2, as a bad stack.yaml does.
	root.SetFlagErrorFunc(usageError)
	wrapArgs(root)
	return root
}

// usageKeepsExit1 are commands whose usage errors keep exit 1: healthcheck
// runs as a Docker HEALTHCHECK, where 1 means unhealthy and 2 is reserved.
var usageKeepsExit1 = map[string]bool{"healthcheck": true}

// usageError makes err, cobra's refusal of c's flags or arguments, an
// ExitError with code exitInvalid (2).
func usageError(c *cobra.Command, err error) error {
	if err == nil || usageKeepsExit1[c.Name()] {
		return err
	}
	return &ExitError{Code: exitInvalid, Err: err}
}

// wrapArgs makes the errors of c's and its subcommands' Args validators
// usage errors (exit 2).
func wrapArgs(c *cobra.Command) {
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error { return usageError(cmd, args(cmd, a)) }
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
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
	if _, _, ferr := root.Find(args); ferr != nil && ferr.Error() == err.Error() {
		// An unknown command: cobra's lookup fails before any Args validator.
		err = usageError(root, err)
	}
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
