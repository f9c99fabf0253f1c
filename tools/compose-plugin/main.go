// Command docker-compose is the Docker Compose v2 CLI plugin, built from
// compose's public Go packages so that a machine without a container registry
// or a compose download can still run `docker compose`. It mirrors
// github.com/docker/compose/v5/cmd/main.go (whose internal version package
// cannot be imported from here; the version is set with -ldflags -X, see
// scripts/setup.sh).
//
// Install: CGO_ENABLED=0 go build -o ~/.docker/cli-plugins/docker-compose .
package main

import (
	"os"

	dockercli "github.com/docker/cli/cli"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/docker/compose/v5/cmd/cmdtrace"
	"github.com/docker/compose/v5/cmd/compatibility"
	commands "github.com/docker/compose/v5/cmd/compose"
	"github.com/docker/compose/v5/cmd/prompt"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// version is reported by `docker compose version` and in the plugin metadata.
// Keep it equal to the compose module version in go.mod.
const version = "v5.6.0"

func pluginMain() {
	plugin.Run(
		func(cli command.Cli) *cobra.Command {
			backendOptions := &commands.BackendOptions{
				Options: []compose.Option{
					compose.WithPrompt(prompt.NewPrompt(cli.In(), cli.Out()).Confirm),
				},
			}
			cmd := commands.RootCommand(cli, backendOptions)
			cmd.AddCommand(commands.HooksCommand())
			originalPreRunE := cmd.PersistentPreRunE
			cmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
				if err := plugin.PersistentPreRunE(cmd, args); err != nil {
					return err
				}
				if err := cmdtrace.Setup(cmd, cli, os.Args[1:]); err != nil {
					logrus.Debugf("failed to enable tracing: %v", err)
				}
				if originalPreRunE != nil {
					return originalPreRunE(cmd, args)
				}
				return nil
			}
			cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
				return dockercli.StatusError{StatusCode: 1, Status: err.Error()}
			})
			return cmd
		},
		metadata.Metadata{
			SchemaVersion: "0.1.0",
			Vendor:        "Docker Inc.",
			Version:       version,
		},
		command.WithUserAgent("compose/"+version),
	)
}

func main() {
	if plugin.RunningStandalone() {
		os.Args = append([]string{"docker"}, compatibility.Convert(os.Args[1:])...)
	}
	pluginMain()
}
