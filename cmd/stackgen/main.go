// Command stackgen turns one declarative stack.yaml into a complete monitoring
// stack for a machine-learning model server and runs it.
package main

import (
	"os"

	"github.com/stackgen/stackgen/cmd/stackgen/commands"
)

func main() {
	os.Exit(commands.Execute(os.Args[1:]))
}
