package kubernetes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed examples/*/deploy-kubernetes folders")

// exampleDir is where an example's kubernetes rendering is committed, so
// readers can see it without running stackgen.
func exampleDir(ex string) string { return filepath.Join("..", "examples", ex, "deploy-kubernetes") }

// TestExamplesAreFresh fails when a committed examples/*/deploy-kubernetes
// folder differs from what render --target kubernetes gives today
// (go test ./kubernetes -run ExamplesAreFresh -update rewrites them).
func TestExamplesAreFresh(t *testing.T) {
	for _, ex := range examples {
		t.Run(ex, func(t *testing.T) {
			files := render(t, loadExample(t, ex))
			dir := exampleDir(ex)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for p, data := range files {
					if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run go test ./kubernetes -run ExamplesAreFresh -update)", err)
			}
			var onDisk, want []string
			for _, e := range entries {
				onDisk = append(onDisk, e.Name())
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(data, files[e.Name()]) {
					t.Errorf("%s is stale (run go test ./kubernetes -run ExamplesAreFresh -update)", e.Name())
				}
			}
			for p := range files {
				want = append(want, p)
			}
			sort.Strings(want)
			if len(onDisk) != len(want) {
				t.Errorf("files on disk %q, rendered %q", onDisk, want)
			}
		})
	}
}
