// Package drift renders what Prometheus needs to compute data drift for the
// models of a stack that have `drift:` configured: the model's baseline file
// for its exporter and a rule group of recording rules computing, per
// feature, each bin's share over the window, each bin's PSI term
// (a − e)·ln(a / e), the feature's PSI and its sample-size-aware threshold
// max(threshold, χ²_q(B−1)·(1/N + 1/M)); the same for the predicted-class
// mix; and the mean top-class confidence. Alerts on these series live in the
// alerting package; docs/drift.md explains the statistics.
package drift

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

// Epsilon is the floor applied to both the actual and the expected share of
// a bin before the PSI term is computed, so an empty bin gives a large but
// finite term instead of ln(0).
const Epsilon = 0.0001

// Defaults of a model's drift section (stack.yaml models[].drift).
const (
	DefaultWindow     = stack.DefaultDriftWindow
	DefaultThreshold  = stack.DefaultDriftThreshold
	DefaultMinSamples = stack.DefaultDriftMinSamples
	DefaultConfidence = stack.DefaultDriftConfidence
)

// Spec is one model's drift configuration as the rules need it: the model
// name, the window, the fixed PSI threshold, the minimum rows before an alert
// and the confidence of the noise threshold, with the loaded and
// feature-filtered baseline.
type Spec struct {
	Model      string
	Window     time.Duration
	Threshold  float64
	MinSamples int
	Confidence float64
	Baseline   *baseline.Baseline
	// BaselineFile is where the baseline is written, relative to the
	// deploy folder (default BaselinePath(Model)).
	BaselineFile string
}

// withDefaults fills zero fields with the package defaults.
func (s Spec) withDefaults() Spec {
	if s.Window <= 0 {
		s.Window = DefaultWindow
	}
	if s.Threshold <= 0 {
		s.Threshold = DefaultThreshold
	}
	if s.MinSamples <= 0 {
		s.MinSamples = DefaultMinSamples
	}
	if s.Confidence <= 0 || s.Confidence >= 1 {
		s.Confidence = DefaultConfidence
	}
	return s
}

// Tests is the number of distributions one evaluation compares for the
// model (its features, plus the predicted-class mix when the baseline has
// one): the Bonferroni divisor of 1 − confidence.
func (s Spec) Tests() int {
	n := len(s.Baseline.Features)
	if classMix(s.Baseline) != nil {
		n++
	}
	return n
}

// Quantile is q = 1 − (1 − confidence)/F, the per-test confidence after the
// Bonferroni correction over the model's F compared distributions.
func (s Spec) Quantile() float64 {
	s = s.withDefaults()
	f := s.Tests()
	if f < 1 {
		f = 1
	}
	return 1 - (1-s.Confidence)/float64(f)
}

// ChiSquare returns χ²_q(bins−1), the q-quantile of the chi-square
// distribution with bins−1 degrees of freedom (gonum's distuv).
func ChiSquare(q float64, bins int) float64 {
	return distuv.ChiSquared{K: float64(bins - 1)}.Quantile(q)
}

// Threshold is the effective PSI threshold of a distribution with the given
// number of bins, n rows in the window and m in the baseline:
// max(fixed, χ²_q(bins−1)·(1/n + 1/m)). It is the formula the recording
// rules evaluate (with the χ² quantile rendered as a constant).
func Threshold(fixed, q float64, bins int, n, m float64) float64 {
	return math.Max(fixed, ChiSquare(q, bins)*(1/n+1/m))
}

// PSI returns Σ (a − e)·ln(a / e) over the bins with both shares floored
// at Epsilon, and each bin's term, as the recording rules compute it.
// actual holds row counts per bin (their sum is N); expected the baseline
// shares. It returns ok false when actual sums to zero (the rules then give
// no series).
func PSI(actual, expected []float64) (psi float64, terms []float64, ok bool) {
	n := 0.0
	for _, c := range actual {
		n += c
	}
	if n <= 0 {
		return 0, nil, false
	}
	terms = make([]float64, len(actual))
	for i, c := range actual {
		a := math.Max(c/n, Epsilon)
		e := math.Max(expected[i], Epsilon)
		terms[i] = (a - e) * math.Log(a/e)
		psi += terms[i]
	}
	return psi, terms, true
}

// baselineRows is M for a feature: the training rows with a value (the sum
// of its bin counts), or the baseline's row count when counts are absent.
func baselineRows(b *baseline.Baseline, bins []baseline.Bin) float64 {
	m := 0
	for _, x := range bins {
		m += x.Count
	}
	if m <= 0 {
		m = b.Rows
	}
	return float64(m)
}

// classMix returns the baseline's expected class mix, or nil when it has
// none (no prediction, or a value prediction: not compared yet).
func classMix(b *baseline.Baseline) *baseline.Prediction {
	if b.Prediction == nil || b.Prediction.Kind != baseline.PredictionClass {
		return nil
	}
	return b.Prediction
}

func (s Spec) check() error {
	if s.Model == "" {
		return fmt.Errorf("drift: a spec without a model name")
	}
	if s.Baseline == nil {
		return fmt.Errorf("drift: model %s: no baseline loaded", s.Model)
	}
	return nil
}
