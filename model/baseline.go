package model

import (
	"bytes"
	_ "embed" // the demo model's drift baseline
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stackgen/stackgen/baseline"
)

//go:embed data/baseline.json
var defaultBaselineJSON []byte

// BaselineOf computes the demo model's drift baseline from a copy of the
// attrition data set and the model file: what `stackgen baseline --data
// attrition.csv --target attrition --predict URL` writes with the model
// served at URL. The prediction mix is the model's own predictions on its
// training rows (what the exporter counts in model_predictions_total), not
// the labels. go generate ./model/ stores it as data/baseline.json.
func BaselineOf(csv, modelJSON []byte) ([]byte, error) {
	m, err := Parse(modelJSON)
	if err != nil {
		return nil, fmt.Errorf("model: demo baseline: %w", err)
	}
	b, err := baseline.Compute(bytes.NewReader(csv), baseline.Options{
		Target: AttritionTarget, File: "attrition.csv", CreatedBy: "stackgen (go generate ./model/)",
		Predict: m.predictor(),
	})
	if err != nil {
		return nil, fmt.Errorf("model: demo baseline: %w", err)
	}
	return b.Marshal()
}

// predictor answers rows in process as the model server would: the class
// label of each row (as its JSON text, which the exporter labels as is).
func (m *Model) predictor() baseline.Predictor {
	return func(columns []string, _ []bool, rows [][]string) ([]baseline.Answer, error) {
		idx := make([]int, len(m.Features))
		for i, f := range m.Features {
			idx[i] = slices.Index(columns, f)
			if idx[i] < 0 {
				return nil, fmt.Errorf("column %q of the model is not in the data", f)
			}
		}
		out := make([]baseline.Answer, len(rows))
		x := make([]float64, len(m.Features))
		for r, row := range rows {
			for i, j := range idx {
				v, err := strconv.ParseFloat(strings.TrimSpace(row[j]), 64)
				if err != nil {
					return nil, fmt.Errorf("row %d, column %q: %w", r+1, m.Features[i], err)
				}
				x[i] = v
			}
			out[r] = baseline.Answer{Label: baseline.ClassLabel(string(m.Predict(x)))}
		}
		return out, nil
	}
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
