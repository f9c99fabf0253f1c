package commands

import (
	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/stack"
)

// defaultStackFile is the stack file commands read when -f is not given.
const defaultStackFile = "stack.yaml"

// addStackFlag adds the shared -f/--file flag (default "stack.yaml") to c,
// storing the path in p.
func addStackFlag(c *cobra.Command, p *string) {
	c.Flags().StringVarP(p, "file", "f", defaultStackFile, "path of the stack file")
}

// loadStack reads, defaults and validates the stack file at path. A
// validation failure is returned untouched as a stack.Problems (test with
// errors.As) so each command can choose its exit code; any other error is an
// I/O error already wrapped with the path.
func loadStack(path string) (*stack.Stack, error) {
	return stack.Load(path)
}
