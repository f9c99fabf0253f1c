package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/stack"
)

func init() { register(newSchemaCmd) }

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of stack.yaml",
		Long: `schema prints the JSON Schema (draft 2020-12) of stack.yaml, generated from
stackgen's Go types. Editors with the YAML language server use it through the
modeline on the first line of stack.yaml; to pin it to this stackgen version:

  stackgen schema > stack.schema.json
  # first line of stack.yaml:
  # yaml-language-server: $schema=./stack.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := stack.Schema()
			if err != nil {
				return fmt.Errorf("schema: %w", err)
			}
			if _, err := cmd.OutOrStdout().Write(data); err != nil {
				return fmt.Errorf("schema: write: %w", err)
			}
			return nil
		},
	}
}
