package model

import (
	"bytes"
	_ "embed" // the demo model's drift baseline
	"fmt"

	"github.com/stackgen/stackgen/baseline"
)

//go:embed data/baseline.json
var defaultBaselineJSON []byte

// BaselineOf computes the demo model's drift baseline from a copy of the
// attrition data set: what `stackgen baseline --data attrition.csv --target
// attrition` writes. go generate ./model/ stores it as data/baseline.json.
func BaselineOf(csv []byte) ([]byte, error) {
	b, err := baseline.Compute(bytes.NewReader(csv), baseline.Options{
		Target: AttritionTarget, File: "attrition.csv", CreatedBy: "stackgen (go generate ./model/)",
	})
	if err != nil {
		return nil, fmt.Errorf("model: demo baseline: %w", err)
	}
	return b.Marshal()
}

// DefaultBaseline returns the embedded demo model's drift baseline
// (data/baseline.json, computed from the embedded attrition data set), a
// fresh copy on every call.
func DefaultBaseline() (*baseline.Baseline, error) {
	b, err := baseline.Parse(defaultBaselineJSON)
	if err != nil {
		return nil, fmt.Errorf("model: embedded data/baseline.json is invalid (run go generate ./model/): %w", err)
	}
	return b, nil
}

// DefaultBaselineJSON returns the embedded baseline file.
func DefaultBaselineJSON() []byte { return bytes.Clone(defaultBaselineJSON) }
