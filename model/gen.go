//go:build ignore

// gen writes the shipped synthetic data set and the embedded default model:
// data/attrition.csv, data/model.json and the demo model's drift baseline
// data/baseline.json. Run it with `go generate ./model/`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stackgen/stackgen/model"
)

func main() {
	csv, modelJSON, err := model.DefaultArtifacts()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	baselineJSON, err := model.BaselineOf(csv, modelJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for name, data := range map[string][]byte{"attrition.csv": csv, "model.json": modelJSON, "baseline.json": baselineJSON} {
		if err := os.WriteFile(filepath.Join("data", name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
