// Package model is stackgen's demo model: a binary logistic-regression
// classifier trained in pure Go, its JSON file format, prediction, and the
// request payloads of the two serving protocols the demo model server speaks
// (the MLflow scoring protocol and the TensorFlow Serving REST API).
//
// The project ships a small tabular data set, data/attrition.csv: an
// employee-attrition-like table (a nod to seed 000's MLflow attrition
// classifier) that is SYNTHETIC — generated deterministically by
// [GenerateAttritionCSV] from a fixed seed, with no real people in it — and a
// model trained on it, data/model.json, which is embedded in the binary and
// returned by [Default]. Both files are written by `go generate ./model/`
// (see gen.go); a test fails when they are stale.
package model

import (
	"bytes"
	_ "embed" // for the default model and data set
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
)

//go:generate go run gen.go

// FormatV1 identifies the model file format written by [Train] and [Model.MarshalJSONIndent].
const FormatV1 = "stackgen/logistic-regression/v1"

// DefaultName is the name of the embedded demo model, and the name given to a
// model file that has none.
const DefaultName = "demo"

//go:embed data/model.json
var defaultModelJSON []byte

//go:embed data/attrition.csv
var attritionCSV []byte

// Model is a binary logistic-regression classifier over numeric features.
//
// Inputs are standardised with the stored means and standard deviations
// before the linear part: p(Classes[1] | x) = sigmoid(Bias + Σ Weights[i]·(x[i]−Means[i])/Stds[i]).
// The JSON encoding of a Model is the model file format.
type Model struct {
	// Format is always FormatV1.
	Format string `json:"format"`
	// Name is the model name served by the TF Serving API (/v1/models/NAME).
	Name string `json:"name"`
	// Version is the model version (a positive integer, as in TF Serving).
	Version int64 `json:"version"`
	// Target is the name of the column the model was trained to predict.
	Target string `json:"target,omitempty"`
	// Features are the input column names, in the order of Weights, Means and Stds.
	Features []string `json:"features"`
	// Classes are the two class labels; the model predicts Classes[1] when its probability is ≥ 0.5.
	Classes []Label `json:"classes"`
	// Means are the training means used to standardise each feature.
	Means []float64 `json:"means"`
	// Stds are the training standard deviations used to standardise each feature (all > 0).
	Stds []float64 `json:"stds"`
	// Weights are the coefficients of the standardised features.
	Weights []float64 `json:"weights"`
	// Bias is the intercept.
	Bias float64 `json:"bias"`
	// Training describes how the model was trained (informational).
	Training *TrainingInfo `json:"training,omitempty"`
}

// TrainingInfo records the training run that produced a model.
type TrainingInfo struct {
	// Rows is the number of training rows.
	Rows int `json:"rows"`
	// Iterations is the number of full-batch gradient-descent steps.
	Iterations int `json:"iterations"`
	// LearningRate is the gradient-descent step size.
	LearningRate float64 `json:"learning_rate"`
	// L2 is the L2 regularisation strength.
	L2 float64 `json:"l2"`
	// Accuracy is the accuracy on the training rows.
	Accuracy float64 `json:"accuracy"`
	// LogLoss is the mean cross-entropy on the training rows.
	LogLoss float64 `json:"log_loss"`
}

// Label is a class label. A label that reads as a number is encoded as a
// JSON number (so MLflow answers look like {"predictions":[0,1]}), any other
// label as a JSON string.
type Label string

// IsNumber reports whether the label is encoded as a JSON number.
func (l Label) IsNumber() bool {
	s := string(l)
	if s == "" {
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return false
	}
	// Only JSON number syntax qualifies ("1e3" yes; "+1", "Inf", "0x10", ".5" no).
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// MarshalJSON encodes the label as a JSON number or string.
func (l Label) MarshalJSON() ([]byte, error) {
	if l.IsNumber() {
		return []byte(l), nil
	}
	return json.Marshal(string(l))
}

// UnmarshalJSON accepts a JSON number or string.
func (l *Label) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("class label: %w", err)
		}
		*l = Label(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("class label must be a number or a string, got %s", truncate(b))
	}
	*l = Label(n)
	return nil
}

// Validate checks that the model is complete and consistent.
func (m *Model) Validate() error {
	if m.Format != FormatV1 {
		return fmt.Errorf("unsupported model format %q (want %q)", m.Format, FormatV1)
	}
	if m.Name == "" {
		return errors.New("model has no name")
	}
	if m.Version < 1 {
		return fmt.Errorf("model version %d: must be a positive integer", m.Version)
	}
	n := len(m.Features)
	if n == 0 {
		return errors.New("model has no features")
	}
	if len(m.Weights) != n || len(m.Means) != n || len(m.Stds) != n {
		return fmt.Errorf("model has %d features but %d weights, %d means and %d stds",
			n, len(m.Weights), len(m.Means), len(m.Stds))
	}
	seen := make(map[string]bool, n)
	for _, f := range m.Features {
		if f == "" {
			return errors.New("model has an empty feature name")
		}
		if seen[f] {
			return fmt.Errorf("feature %q appears twice", f)
		}
		seen[f] = true
	}
	for i := range n {
		if !finite(m.Weights[i]) || !finite(m.Means[i]) || !finite(m.Stds[i]) || m.Stds[i] <= 0 {
			return fmt.Errorf("feature %q: weight, mean and std must be finite and std > 0", m.Features[i])
		}
	}
	if !finite(m.Bias) {
		return errors.New("model bias is not finite")
	}
	if len(m.Classes) != 2 {
		return fmt.Errorf("model has %d classes; a logistic regression needs exactly 2", len(m.Classes))
	}
	if m.Classes[0] == m.Classes[1] {
		return fmt.Errorf("model classes are both %q", m.Classes[0])
	}
	return nil
}

// Parse decodes and validates a model file. A model without a name is named [DefaultName].
func Parse(data []byte) (*Model, error) {
	var m Model
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if m.Name == "" {
		m.Name = DefaultName
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("invalid model: %w", err)
	}
	return &m, nil
}

// Load reads a model file with [Parse].
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// MarshalJSONIndent encodes the model file: indented JSON with a trailing
// newline. The output is a deterministic function of the model.
func (m *Model) MarshalJSONIndent() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return append(b, '\n'), nil
}

// Save writes the model file to path.
func (m *Model) Save(path string) error {
	b, err := m.MarshalJSONIndent()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write model: %w", err)
	}
	return nil
}

// Clone returns a deep copy of the model.
func (m *Model) Clone() *Model {
	c := *m
	c.Features = append([]string(nil), m.Features...)
	c.Classes = append([]Label(nil), m.Classes...)
	c.Means = append([]float64(nil), m.Means...)
	c.Stds = append([]float64(nil), m.Stds...)
	c.Weights = append([]float64(nil), m.Weights...)
	if m.Training != nil {
		t := *m.Training
		c.Training = &t
	}
	return &c
}

var defaultModel = sync.OnceValue(func() *Model {
	m, err := Parse(defaultModelJSON)
	if err != nil {
		panic(fmt.Sprintf("model: embedded default model is invalid (run go generate ./model/): %v", err))
	}
	return m
})

// Default returns a copy of the embedded demo model (data/model.json), named
// [DefaultName] and trained on the embedded attrition data set.
func Default() *Model { return defaultModel().Clone() }

// DefaultJSON returns the embedded model file.
func DefaultJSON() []byte { return bytes.Clone(defaultModelJSON) }

// AttritionCSV returns the embedded synthetic data set (data/attrition.csv).
func AttritionCSV() []byte { return bytes.Clone(attritionCSV) }

// Probability returns the probability of Classes[1] for one row of feature
// values in the order of m.Features. The row must have len(m.Features) values.
func (m *Model) Probability(x []float64) float64 {
	z := m.Bias
	for i, v := range x[:len(m.Weights)] {
		z += m.Weights[i] * ((v - m.Means[i]) / m.Stds[i])
	}
	return sigmoid(z)
}

// PredictIndex returns the index in m.Classes of the predicted class for one row.
func (m *Model) PredictIndex(x []float64) int {
	if m.Probability(x) >= 0.5 {
		return 1
	}
	return 0
}

// Predict returns the predicted class label for one row.
func (m *Model) Predict(x []float64) Label { return m.Classes[m.PredictIndex(x)] }

// sigmoid is the logistic function, computed without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// truncate shortens b for error messages.
func truncate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
