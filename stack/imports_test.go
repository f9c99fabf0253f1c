package stack

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRenderersImportOnlyStack keeps shared names in one place: a renderer
// (non-test file) imports no other stackgen package than stack (and the
// baseline file format the stack carries), so service,
// job and label names cannot drift between renderers.
func TestRenderersImportOnlyStack(t *testing.T) {
	const module = "github.com/stackgen/stackgen/"
	for _, pkg := range []string{"compose", "prometheus", "alerting", "grafana", "dashboards", "tfserving", "drift"} {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", pkg, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				// baseline is the drift baseline's data format (on
				// Model.Drift), not a place for names.
				if strings.HasPrefix(path, module) && path != module+"stack" && path != module+"baseline" {
					t.Errorf("%s imports %s; take shared names from package stack", f, path)
				}
			}
		}
	}
}
