// Package baseline is the drift baseline: what a model's inputs and
// predictions looked like on its training data, as expected shares per bin.
//
// A baseline file (JSON, format "stackgen/baseline/v1") is made by `stackgen
// baseline` from a training CSV. The exporter counts every input row's
// feature values into the same bins (model_feature_bin_total{feature, bin});
// Prometheus compares the shares over a window with the expected ones (PSI).
// Bin labels come only from the file, so label cardinality is bounded by it.
package baseline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
)

// Format is the format string of version 1 baseline files.
const Format = "stackgen/baseline/v1"

// Feature kinds.
const (
	// KindNumeric bins a number by Edges.
	KindNumeric = "numeric"
	// KindCategorical bins a value by Categories; anything else is "other".
	KindCategorical = "categorical"
)

// Prediction kinds.
const (
	// PredictionClass is a class mix (classifiers).
	PredictionClass = "class"
	// PredictionValue is a binned number (regression, scores).
	PredictionValue = "value"
)

// OtherLabel is the label of a categorical feature's last bin, which holds
// every category not in Categories.
const OtherLabel = "other"

// Baseline is one model's training-data profile.
type Baseline struct {
	// Format is always Format.
	Format string `json:"format"`
	// CreatedBy names the tool and version that wrote the file.
	CreatedBy string `json:"created_by,omitempty"`
	// Source describes the training data the baseline was computed from.
	Source Source `json:"source"`
	// Rows is the number of training rows (M in the PSI noise term).
	Rows int `json:"rows"`
	// Columns are the model's input columns in order: a positional input row
	// (a list without names) maps its i-th value to Columns[i].
	Columns []string `json:"columns"`
	// Features are the profiled input columns (a subset of Columns, in
	// Columns' order).
	Features []Feature `json:"features"`
	// Prediction is the expected prediction mix (absent when unknown).
	Prediction *Prediction `json:"prediction,omitempty"`
}

// Source identifies the training data.
type Source struct {
	// File is the CSV's base name as given to `stackgen baseline`.
	File string `json:"file"`
	// SHA256 is the hex digest of the CSV's bytes.
	SHA256 string `json:"sha256"`
	// Target is the label column, excluded from Features ("" if none).
	Target string `json:"target,omitempty"`
}

// Feature is one input column's profile.
type Feature struct {
	// Name is the column name (the feature label value).
	Name string `json:"name"`
	// Kind is KindNumeric or KindCategorical.
	Kind string `json:"kind"`
	// Edges (numeric) are the inner bin edges, strictly increasing; with n
	// edges there are n+1 bins: bin 0 is (-inf, Edges[0]), bin i is
	// [Edges[i-1], Edges[i]), the last is [Edges[n-1], +inf).
	Edges []float64 `json:"edges,omitempty"`
	// Min and Max (numeric) are the training range; values outside it are
	// still binned (into the end bins) and also counted as out of range.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
	// Mean and Std (numeric) are the training mean and standard deviation
	// (for `stackgen load --shift FEATURE=+2sd`).
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`
	// Categories (categorical) are the values with their own bin, in bin
	// order; the last bin, OtherLabel, holds every other value.
	Categories []string `json:"categories,omitempty"`
	// Bins are the expected shares, in bin order (len(Edges)+1 for numeric,
	// len(Categories)+1 for categorical).
	Bins []Bin `json:"bins"`
	// Missing is the share of training rows where the value was missing.
	Missing float64 `json:"missing_ratio"`
}

// Bin is one bin's label and expected share.
type Bin struct {
	// Label is the bin's label value: unique within its feature, printable,
	// sorting in bin order (e.g. "03 [30,35)").
	Label string `json:"label"`
	// Count is the number of training rows in the bin.
	Count int `json:"count"`
	// Ratio is Count divided by the rows with a value (0–1; the Ratios of a
	// feature sum to 1).
	Ratio float64 `json:"ratio"`
}

// Prediction is the expected prediction mix.
type Prediction struct {
	// Kind is PredictionClass or PredictionValue.
	Kind string `json:"kind"`
	// From says where the mix comes from: "target" (the label column) or
	// "model" (the model's answers on the training data, --predict).
	From string `json:"from"`
	// Bins: for class, one per class with Label the class as the exporter
	// labels model_predictions_total{class}; for value, as Feature.Bins with
	// Edges.
	Bins  []Bin     `json:"bins"`
	Edges []float64 `json:"edges,omitempty"`
	// Confidence is the model's top-class probability on the training data
	// (only with --predict on a model that returns probabilities).
	Confidence *Confidence `json:"confidence,omitempty"`
}

// Confidence summarises top-class probabilities.
type Confidence struct {
	// Mean is the mean top-class probability.
	Mean float64 `json:"mean"`
	// Rows is how many answers it is computed from.
	Rows int `json:"rows"`
}

// Load reads and validates a baseline file. Errors name the file and field.
func Load(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	b, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return b, nil
}

// Parse decodes and validates a baseline. Unknown fields are refused so a
// typo does not pass silently.
func Parse(data []byte) (*Baseline, error) {
	var b Baseline
	dec := json.NewDecoder(bytesReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not a baseline file (%v); make one with `stackgen baseline --data train.csv -o baseline.json`", err)
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &b, nil
}

// Validate checks the invariants the exporter and the rules rely on.
func (b *Baseline) Validate() error {
	if b.Format != Format {
		return fmt.Errorf("format: %q, want %q (regenerate it with `stackgen baseline`)", b.Format, Format)
	}
	if b.Rows <= 0 {
		return errors.New("rows: must be > 0")
	}
	if len(b.Features) == 0 && b.Prediction == nil {
		return errors.New("features: empty and no prediction: nothing to compare")
	}
	cols := map[string]bool{}
	for i, c := range b.Columns {
		if c == "" || cols[c] {
			return fmt.Errorf("columns[%d]: empty or duplicate column %q", i, c)
		}
		cols[c] = true
	}
	seen := map[string]bool{}
	for i := range b.Features {
		f := &b.Features[i]
		where := fmt.Sprintf("features[%d] (%s)", i, f.Name)
		if !cols[f.Name] {
			return fmt.Errorf("%s: not in columns", where)
		}
		if seen[f.Name] {
			return fmt.Errorf("%s: duplicate feature", where)
		}
		seen[f.Name] = true
		if err := f.validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	if p := b.Prediction; p != nil {
		if p.Kind != PredictionClass && p.Kind != PredictionValue {
			return fmt.Errorf("prediction.kind: %q, want %q or %q", p.Kind, PredictionClass, PredictionValue)
		}
		want := len(p.Bins)
		if p.Kind == PredictionValue {
			if err := checkEdges(p.Edges); err != nil {
				return fmt.Errorf("prediction.edges: %w", err)
			}
			want = len(p.Edges) + 1
		}
		if err := checkBins(p.Bins, want); err != nil {
			return fmt.Errorf("prediction.bins: %w", err)
		}
	}
	return nil
}

func (f *Feature) validate() error {
	switch f.Kind {
	case KindNumeric:
		if err := checkEdges(f.Edges); err != nil {
			return fmt.Errorf("edges: %w", err)
		}
		return checkBins(f.Bins, len(f.Edges)+1)
	case KindCategorical:
		for i, c := range f.Categories {
			if c == OtherLabel {
				return fmt.Errorf("categories[%d]: %q is reserved for the last bin", i, c)
			}
		}
		if err := checkBins(f.Bins, len(f.Categories)+1); err != nil {
			return err
		}
		if f.Bins[len(f.Bins)-1].Label != OtherLabel {
			return fmt.Errorf("bins: the last bin must be %q", OtherLabel)
		}
		return nil
	default:
		return fmt.Errorf("kind: %q, want %q or %q", f.Kind, KindNumeric, KindCategorical)
	}
}

func checkEdges(e []float64) error {
	for i, v := range e {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("[%d]: not a finite number", i)
		}
		if i > 0 && v <= e[i-1] {
			return fmt.Errorf("[%d]: %g not above %g (edges must increase)", i, v, e[i-1])
		}
	}
	return nil
}

func checkBins(bins []Bin, want int) error {
	if len(bins) != want || want < 2 {
		return fmt.Errorf("%d bins, want %d (at least 2)", len(bins), want)
	}
	labels := map[string]bool{}
	sum := 0.0
	for i, b := range bins {
		if b.Label == "" || labels[b.Label] {
			return fmt.Errorf("[%d]: empty or duplicate label %q", i, b.Label)
		}
		labels[b.Label] = true
		if b.Ratio < 0 || b.Ratio > 1 || math.IsNaN(b.Ratio) || b.Count < 0 {
			return fmt.Errorf("[%d] (%s): ratio %g / count %d out of range", i, b.Label, b.Ratio, b.Count)
		}
		sum += b.Ratio
	}
	if math.Abs(sum-1) > 1e-6 {
		return fmt.Errorf("ratios sum to %g, want 1", sum)
	}
	return nil
}

// NumericBin returns the bin index of v in a numeric feature, and whether v
// lies outside the training range [Min, Max]. NaN is not binned (-1).
func (f *Feature) NumericBin(v float64) (bin int, outOfRange bool) {
	if math.IsNaN(v) {
		return -1, true
	}
	// The number of edges <= v is the bin: bin i is [Edges[i-1], Edges[i]).
	i := sort.Search(len(f.Edges), func(i int) bool { return f.Edges[i] > v })
	return i, v < f.Min || v > f.Max
}

// CategoryBin returns the bin index of a categorical value: its category's,
// or the last ("other").
func (f *Feature) CategoryBin(v string) int {
	for i, c := range f.Categories {
		if c == v {
			return i
		}
	}
	return len(f.Categories)
}

// Feature returns the named feature, or nil.
func (b *Baseline) Feature(name string) *Feature {
	for i := range b.Features {
		if b.Features[i].Name == name {
			return &b.Features[i]
		}
	}
	return nil
}

// Select returns a copy of b keeping only the named features (all when names
// is empty), in b's order. Unknown names are an error naming the known ones.
func (b *Baseline) Select(names []string) (*Baseline, error) {
	if len(names) == 0 {
		c := *b
		return &c, nil
	}
	keep := map[string]bool{}
	for _, n := range names {
		if b.Feature(n) == nil {
			known := make([]string, len(b.Features))
			for i, f := range b.Features {
				known[i] = f.Name
			}
			return nil, fmt.Errorf("feature %q is not in the baseline (it has %v)", n, known)
		}
		keep[n] = true
	}
	c := *b
	c.Features = nil
	for _, f := range b.Features {
		if keep[f.Name] {
			c.Features = append(c.Features, f)
		}
	}
	return &c, nil
}

// Marshal writes b as indented JSON with a trailing newline.
func (b *Baseline) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
