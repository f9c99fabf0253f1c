// Package templates holds the commented starter stacks written by
// 'stackgen init'.
//
// Each starter is templates/stacks/<name>.yaml, embedded in the binary. Its
// first line is a yaml-language-server modeline naming the JSON Schema of
// stack.yaml by its published URL (stack.SchemaID, the committed
// stack/schema.json), so editors with the YAML language server complete and
// check the file with no extra file beside it. To pin the schema to the
// installed stackgen, or to work offline, run
// 'stackgen schema > stack.schema.json' and change the modeline to
// '# yaml-language-server: $schema=./stack.schema.json'.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/stackgen/stackgen/stack"
)

//go:embed stacks/*.yaml
var stacks embed.FS

// Default is the starter 'stackgen init' writes when no template is chosen.
const Default = "demo"

// Modeline is the first line of every starter: it points the YAML language
// server at the JSON Schema of stack.yaml.
const Modeline = "# yaml-language-server: $schema=" + stack.SchemaID

// Names lists the starter stacks, sorted.
func Names() []string {
	entries, err := fs.ReadDir(stacks, "stacks")
	if err != nil {
		// The directory is embedded at build time; it cannot be missing.
		panic(fmt.Sprintf("templates: read embedded stacks: %v", err))
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Starter returns the commented starter stack.yaml called name (see Names).
func Starter(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\.`) || name == "" {
		return nil, fmt.Errorf("unknown template %q (templates: %s)", name, strings.Join(Names(), ", "))
	}
	data, err := stacks.ReadFile("stacks/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown template %q (templates: %s)", name, strings.Join(Names(), ", "))
	}
	return data, nil
}
