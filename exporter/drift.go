package exporter

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

// This file holds the drift metrics: what the exporter counts against a
// model's baseline (Config.Baseline). The request side (feature values into
// bins) is in drift_rows.go, the answer side (prediction values and
// confidence) in drift_answer.go.
//
// Hot-path design: every series is created once here and kept in a flat
// slice (slot = feature's offset + bin, then missing, then out_of_range), so
// counting a value is an index, never a label lookup. A request is counted
// into a pooled per-request scratch first and committed only when the whole
// body parsed, so a malformed body counts nothing.

// DefaultConfidenceBuckets are the model_prediction_confidence buckets.
var DefaultConfidenceBuckets = []float64{0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1}

// driftFeature is one baseline feature's resolved series.
type driftFeature struct {
	name    string
	f       *baseline.Feature
	numeric bool
	off     int // slot of bin 0; missing is off+nbins, out_of_range off+nbins+1
	nbins   int
}

func (f *driftFeature) missingSlot() int    { return f.off + f.nbins }
func (f *driftFeature) outOfRangeSlot() int { return f.off + f.nbins + 1 }

// colFeat maps a positional column to a feature index.
type colFeat struct{ col, feat int }

// driftMetrics counts inputs and predictions against one baseline.
type driftMetrics struct {
	b       *baseline.Baseline
	feats   []driftFeature
	ctr     []prometheus.Counter // by slot
	byName  map[string]int       // feature name → index, used when there are many features
	lenMask uint64               // bit n: some feature name has length n (63: ≥ 63)
	pos     []colFeat            // baseline.Columns order → feature, sorted by col

	predValue  prometheus.Histogram // nil unless the prediction kind is value
	confidence prometheus.Histogram
	classes    [][]byte // class labels by probability index (baseline class bins), or nil
	// sigmoid: the baseline was made from a model answering one probability
	// per row (classes exactly "0" and "1", with a confidence): a number in
	// [0, 1] is class p >= 0.5 with confidence max(p, 1-p), as `stackgen
	// baseline --predict` reads such answers.
	sigmoid bool

	scratch sync.Pool     // *driftScratch
	rows    atomic.Uint64 // input rows committed (for tests and fuzzing)
}

// driftScratch is one request's pending counts.
type driftScratch struct {
	counts  []uint32 // by slot
	touched []int    // slots with counts > 0
	seen    []bool   // by feature, within the current row
	cols    []colFeat
	rows    int
}

// add counts one event in slot k.
func (s *driftScratch) add(k int) {
	if s.counts[k] == 0 {
		s.touched = append(s.touched, k)
	}
	s.counts[k]++
}

// newDriftMetrics registers every drift series of b on reg, all at 0.
func newDriftMetrics(reg *prometheus.Registry, b *baseline.Baseline, preds *classCache) *driftMetrics {
	d := &driftMetrics{b: b}
	binVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: stack.MetricFeatureBin,
		Help: "Input rows per feature and baseline bin (bins and features come only from the baseline file).",
	}, []string{stack.LabelFeature, stack.LabelBin})
	missVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: stack.MetricFeatureMissing,
		Help: "Input rows where a baseline feature was absent, null or NaN.",
	}, []string{stack.LabelFeature})
	oorVec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: stack.MetricFeatureOutOfRange,
		Help: "Input values outside the feature's training range [min, max] (still binned), or not a number in a numeric feature (not binned).",
	}, []string{stack.LabelFeature})
	ratioVec := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: stack.MetricFeatureBaselineRatio,
		Help: "Expected share of each feature bin on the training data (from the baseline file).",
	}, []string{stack.LabelFeature, stack.LabelBin})
	reg.MustRegister(binVec, missVec, oorVec, ratioVec)

	d.feats = make([]driftFeature, len(b.Features))
	for i := range b.Features {
		f := &b.Features[i]
		df := &d.feats[i]
		*df = driftFeature{name: f.Name, f: f, numeric: f.Kind == baseline.KindNumeric, off: len(d.ctr), nbins: len(f.Bins)}
		for _, bin := range f.Bins {
			d.ctr = append(d.ctr, binVec.WithLabelValues(f.Name, bin.Label))
			ratioVec.WithLabelValues(f.Name, bin.Label).Set(bin.Ratio)
		}
		d.ctr = append(d.ctr, missVec.WithLabelValues(f.Name), oorVec.WithLabelValues(f.Name))
		if n := len(f.Name); n < 63 {
			d.lenMask |= 1 << n
		} else {
			d.lenMask |= 1 << 63
		}
	}
	if len(d.feats) > 16 {
		d.byName = make(map[string]int, len(d.feats))
		for i, f := range d.feats {
			d.byName[f.name] = i
		}
	}
	for c, name := range b.Columns {
		if fi := d.lookupString(name); fi >= 0 {
			d.pos = append(d.pos, colFeat{c, fi})
		}
	}

	d.confidence = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    stack.MetricPredictionConfidence,
		Help:    "Top-class probability of each prediction, when the model answers with class probabilities.",
		Buckets: DefaultConfidenceBuckets,
	})
	reg.MustRegister(d.confidence)
	if p := b.Prediction; p != nil {
		switch p.Kind {
		case baseline.PredictionClass:
			ratio := prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: stack.MetricPredictionBaselineRatio,
				Help: "Expected share of each predicted class on the training data (from the baseline file).",
			}, []string{stack.LabelClass})
			reg.MustRegister(ratio)
			for _, bin := range p.Bins {
				ratio.WithLabelValues(bin.Label).Set(bin.Ratio)
				preds.preset(bin.Label)
				d.classes = append(d.classes, []byte(bin.Label))
			}
			for _, bin := range p.Bins {
				if bin.Label == baseline.OtherLabel {
					// A padded mix (one class seen, plus "other") does not
					// list the model's classes: probabilities keep their
					// index labels.
					d.classes = nil
					break
				}
			}
			d.sigmoid = p.Confidence != nil && len(p.Bins) == 2 && p.Bins[0].Label == "0" && p.Bins[1].Label == "1"
		case baseline.PredictionValue:
			d.predValue = prometheus.NewHistogram(prometheus.HistogramOpts{
				Name:    stack.MetricPredictionValue,
				Help:    "Numeric predictions (regression outputs, scores), bucketed by the baseline's prediction edges.",
				Buckets: p.Edges,
			})
			reg.MustRegister(d.predValue)
		}
		if c := p.Confidence; c != nil {
			g := prometheus.NewGauge(prometheus.GaugeOpts{
				Name: stack.MetricPredictionConfidenceBaseline,
				Help: "Mean top-class probability on the training data (from the baseline file).",
			})
			g.Set(c.Mean)
			reg.MustRegister(g)
		}
	}
	nslots, nfeats := len(d.ctr), len(d.feats)
	d.scratch.New = func() any {
		return &driftScratch{counts: make([]uint32, nslots), seen: make([]bool, nfeats)}
	}
	return d
}

// lookup returns the feature index of a raw JSON key or CSV header (-1 when
// it is not a baseline feature). No allocation: a length mask rejects most
// keys, then a linear scan (≤ 16 features) or a map index.
func (d *driftMetrics) lookup(key []byte) int {
	n := len(key)
	if n > 63 {
		n = 63
	}
	if d.lenMask&(1<<n) == 0 {
		return -1
	}
	if d.byName != nil {
		if i, ok := d.byName[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range d.feats {
		if d.feats[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (d *driftMetrics) lookupString(s string) int { return d.lookup([]byte(s)) }

// begin returns a fresh scratch for one request.
func (d *driftMetrics) begin() *driftScratch { return d.scratch.Get().(*driftScratch) }

// commit adds the scratch's counts to the series when ok, then recycles it.
func (d *driftMetrics) commit(s *driftScratch, ok bool) {
	for _, k := range s.touched {
		if ok {
			d.ctr[k].Add(float64(s.counts[k]))
		}
		s.counts[k] = 0
	}
	if ok {
		d.rows.Add(uint64(s.rows))
	}
	s.rows = 0
	s.touched = s.touched[:0]
	s.cols = s.cols[:0]
	clear(s.seen)
	d.scratch.Put(s)
}

// endRow counts every feature not seen in the row as missing and resets the
// row state.
func (d *driftMetrics) endRow(s *driftScratch) {
	for i := range s.seen {
		if !s.seen[i] {
			s.add(d.feats[i].missingSlot())
		}
		s.seen[i] = false
	}
	s.rows++
}

// numeric counts a number in feature fi: its bin, and out_of_range outside
// the training range; NaN is missing.
func (d *driftMetrics) numeric(s *driftScratch, fi int, v float64) {
	f := &d.feats[fi]
	if math.IsNaN(v) {
		s.add(f.missingSlot())
		return
	}
	bin, out := f.f.NumericBin(v)
	s.add(f.off + bin)
	if out {
		s.add(f.outOfRangeSlot())
	}
}

// text counts a value given as text (a JSON string's content, a CSV field,
// or a JSON number/boolean's literal text) in feature fi. For a numeric
// feature it must parse as a float, else it is out of range (not binned).
func (d *driftMetrics) text(s *driftScratch, fi int, v []byte) {
	f := &d.feats[fi]
	if f.numeric {
		x, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			s.add(f.outOfRangeSlot())
			return
		}
		d.numeric(s, fi, x)
		return
	}
	for i, c := range f.f.Categories {
		if c == string(v) {
			s.add(f.off + i)
			return
		}
	}
	s.add(f.off + len(f.f.Categories)) // "other"
}
