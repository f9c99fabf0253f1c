package model

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Dataset is a table of numeric features with a binary label.
type Dataset struct {
	// Features are the feature column names, in the order of each row of X.
	Features []string
	// Target is the label column name.
	Target string
	// Classes are the two distinct labels, sorted (numerically when both are numbers).
	Classes []Label
	// X holds one row of feature values per example.
	X [][]float64
	// Y holds the index in Classes of each example's label.
	Y []int
}

// ReadCSV reads a data set from CSV with a header row. target names the label
// column, which must hold exactly two distinct values. features selects the
// feature columns in order; nil means every other column. Feature values must
// be numbers.
func ReadCSV(r io.Reader, target string, features []string) (*Dataset, error) {
	if target == "" {
		return nil, errors.New("no target column given")
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty CSV: no header row")
		}
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("CSV header: column %q appears twice", h)
		}
		col[h] = i
	}
	ti, ok := col[target]
	if !ok {
		return nil, fmt.Errorf("target column %q not in CSV header %v", target, header)
	}
	if features == nil {
		for _, h := range header {
			if h != target {
				features = append(features, h)
			}
		}
	}
	if len(features) == 0 {
		return nil, errors.New("no feature columns")
	}
	idx := make([]int, len(features))
	for i, f := range features {
		j, ok := col[f]
		if !ok {
			return nil, fmt.Errorf("feature column %q not in CSV header %v", f, header)
		}
		if j == ti {
			return nil, fmt.Errorf("column %q is both a feature and the target", f)
		}
		idx[i] = j
	}
	ds := &Dataset{Features: slices.Clone(features), Target: target}
	var labels []string
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read CSV: %w", err)
		}
		row := make([]float64, len(idx))
		for i, j := range idx {
			s := strings.TrimSpace(rec[j])
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || !finite(v) {
				return nil, fmt.Errorf("CSV line %d, column %q: %q is not a finite number (only numeric features are supported; leave the column out with a feature list)", line, features[i], s)
			}
			row[i] = v
		}
		label := strings.TrimSpace(rec[ti])
		if label == "" {
			return nil, fmt.Errorf("CSV line %d: empty target %q", line, target)
		}
		ds.X = append(ds.X, row)
		labels = append(labels, label)
	}
	if len(ds.X) == 0 {
		return nil, errors.New("CSV has no data rows")
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(labels)))
	if len(distinct) != 2 {
		return nil, fmt.Errorf("target %q has %d distinct values; binary classification needs exactly 2", target, len(distinct))
	}
	a, errA := strconv.ParseFloat(distinct[0], 64)
	b, errB := strconv.ParseFloat(distinct[1], 64)
	if errA == nil && errB == nil && b < a {
		distinct[0], distinct[1] = distinct[1], distinct[0]
	}
	ds.Classes = []Label{Label(distinct[0]), Label(distinct[1])}
	ds.Y = make([]int, len(labels))
	for i, l := range labels {
		if l == distinct[1] {
			ds.Y[i] = 1
		}
	}
	return ds, nil
}

// TrainOptions configure [Train].
type TrainOptions struct {
	// Name is the model name; "" means DefaultName.
	Name string
	// Version is the model version; 0 means 1.
	Version int64
	// Iterations is the number of full-batch gradient-descent steps.
	Iterations int
	// LearningRate is the step size.
	LearningRate float64
	// L2 is the L2 regularisation strength (the bias is not regularised).
	L2 float64
}

// DefaultTrainOptions are the options used for the embedded model and by
// `stackgen model train`.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{Name: DefaultName, Version: 1, Iterations: 2000, LearningRate: 0.5, L2: 1e-3}
}

// Train fits a logistic regression by full-batch gradient descent on
// standardised features, starting from zero weights. It is deterministic:
// the same data and options give the same model (and the same file bytes;
// parameters are rounded to 6 decimals so that the file is also stable across
// platforms).
func Train(ds *Dataset, opts TrainOptions) (*Model, error) {
	if err := ds.check(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Version == 0 {
		opts.Version = 1
	}
	if opts.Version < 0 {
		return nil, fmt.Errorf("version %d: must be positive", opts.Version)
	}
	if opts.Iterations <= 0 || !(opts.LearningRate > 0) || !(opts.L2 >= 0) || math.IsInf(opts.LearningRate, 0) || math.IsInf(opts.L2, 0) {
		return nil, fmt.Errorf("invalid training options: iterations %d, learning rate %g, l2 %g", opts.Iterations, opts.LearningRate, opts.L2)
	}
	n, d := len(ds.X), len(ds.Features)

	means := make([]float64, d)
	stds := make([]float64, d)
	for _, row := range ds.X {
		for j, v := range row {
			means[j] += v
		}
	}
	for j := range means {
		means[j] /= float64(n)
	}
	for _, row := range ds.X {
		for j, v := range row {
			dv := v - means[j]
			stds[j] += dv * dv
		}
	}
	for j := range stds {
		stds[j] = math.Sqrt(stds[j] / float64(n))
		if stds[j] < 1e-12 {
			stds[j] = 1 // constant column: leave it centred, unscaled
		}
		means[j] = round6(means[j])
		stds[j] = round6(stds[j])
		if stds[j] == 0 {
			stds[j] = 1e-6
		}
	}
	z := make([][]float64, n)
	flat := make([]float64, n*d)
	for i, row := range ds.X {
		z[i] = flat[i*d : (i+1)*d : (i+1)*d]
		for j, v := range row {
			z[i][j] = (v - means[j]) / stds[j]
		}
	}

	w := make([]float64, d)
	grad := make([]float64, d)
	bias := 0.0
	for range opts.Iterations {
		clear(grad)
		gb := 0.0
		for i, row := range z {
			s := bias
			for j, v := range row {
				s += w[j] * v
			}
			e := sigmoid(s) - float64(ds.Y[i])
			for j, v := range row {
				grad[j] += e * v
			}
			gb += e
		}
		for j := range w {
			w[j] -= opts.LearningRate * (grad[j]/float64(n) + opts.L2*w[j])
		}
		bias -= opts.LearningRate * gb / float64(n)
	}
	for j := range w {
		w[j] = round6(w[j])
	}
	m := &Model{
		Format:   FormatV1,
		Name:     opts.Name,
		Version:  opts.Version,
		Target:   ds.Target,
		Features: slices.Clone(ds.Features),
		Classes:  slices.Clone(ds.Classes),
		Means:    means,
		Stds:     stds,
		Weights:  w,
		Bias:     round6(bias),
	}
	acc, ll := m.evaluate(ds)
	m.Training = &TrainingInfo{
		Rows:         n,
		Iterations:   opts.Iterations,
		LearningRate: opts.LearningRate,
		L2:           opts.L2,
		Accuracy:     round6(acc),
		LogLoss:      round6(ll),
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("trained model: %w", err)
	}
	return m, nil
}

// Accuracy returns the fraction of rows of ds the model classifies correctly.
// The data set's features and classes must be the model's.
func (m *Model) Accuracy(ds *Dataset) (float64, error) {
	if err := ds.check(); err != nil {
		return 0, err
	}
	if !slices.Equal(ds.Features, m.Features) {
		return 0, fmt.Errorf("data set features %v differ from model features %v", ds.Features, m.Features)
	}
	if !slices.Equal(ds.Classes, m.Classes) {
		return 0, fmt.Errorf("data set classes %v differ from model classes %v", ds.Classes, m.Classes)
	}
	acc, _ := m.evaluate(ds)
	return acc, nil
}

// evaluate returns accuracy and mean log loss on ds.
func (m *Model) evaluate(ds *Dataset) (acc, logLoss float64) {
	correct := 0
	for i, row := range ds.X {
		p := m.Probability(row)
		pred := 0
		if p >= 0.5 {
			pred = 1
		}
		if pred == ds.Y[i] {
			correct++
		}
		if ds.Y[i] == 0 {
			p = 1 - p
		}
		logLoss -= math.Log(max(p, 1e-15))
	}
	n := float64(len(ds.X))
	return float64(correct) / n, logLoss / n
}

func (ds *Dataset) check() error {
	if ds == nil || len(ds.X) == 0 {
		return errors.New("empty data set")
	}
	if len(ds.Features) == 0 {
		return errors.New("data set has no features")
	}
	if len(ds.Y) != len(ds.X) {
		return fmt.Errorf("data set has %d rows but %d labels", len(ds.X), len(ds.Y))
	}
	if len(ds.Classes) != 2 {
		return fmt.Errorf("data set has %d classes, want 2", len(ds.Classes))
	}
	for i, row := range ds.X {
		if len(row) != len(ds.Features) {
			return fmt.Errorf("data set row %d has %d values, want %d", i, len(row), len(ds.Features))
		}
		if ds.Y[i] != 0 && ds.Y[i] != 1 {
			return fmt.Errorf("data set row %d: label index %d", i, ds.Y[i])
		}
	}
	return nil
}

// round6 rounds to 6 decimal places.
func round6(v float64) float64 {
	r := math.Round(v*1e6) / 1e6
	if r == 0 {
		return 0 // no negative zero in files
	}
	return r
}
