package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackgen/stackgen/templates"
)

func init() { register(newInitCmd) }

func newInitCmd() *cobra.Command {
	var file, tmpl string
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter stack.yaml",
		Long: `init writes a starter stack.yaml that explains every field in comments. Its
first line is a yaml-language-server modeline naming the JSON Schema, so editors
complete and check the file. init never overwrites a file unless --force is given.

Templates:
  demo       stackgen's own demo model: runs with nothing else installed
  mlflow     an MLflow model image built with 'mlflow models build-docker'
  tfserving  a SavedModel served by tensorflow/serving
  remote     a model served elsewhere (TF Serving behind https)`,
		Example: `  stackgen init
  stackgen init --template tfserving -f tf/stack.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := templates.Starter(tmpl)
			if err != nil {
				return exitf(1, "init: %w", err)
			}
			if err := writeStarter(file, data, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (template %s); edit it, then run: stackgen validate -f %s\n", file, tmpl, file)
			return nil
		},
	}
	addStackFlag(c, &file)
	c.Flags().StringVarP(&tmpl, "template", "t", templates.Default, "starter to write: "+strings.Join(templates.Names(), ", "))
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	_ = c.RegisterFlagCompletionFunc("template", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return templates.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

// writeStarter writes data to path, creating its folder. Without force an
// existing file is left alone and init exits 1.
func writeStarter(path string, data []byte, force bool) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("init: create folder for %s: %w", path, err)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return exitf(1, "init: %s already exists; not overwriting it (use --force to replace it, or -f to write elsewhere)", path)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	return nil
}
