package baseline

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat"
)

// DefaultBins is the number of bins per feature when Options.Bins is 0.
const DefaultBins = 10

// MaxBins bounds Options.Bins (label cardinality per feature).
const MaxBins = 100

// Options configure Compute.
type Options struct {
	// Bins per feature (default DefaultBins, 2–MaxBins): numeric features get
	// at most Bins quantile bins, categorical ones the top Bins−1 categories
	// plus "other".
	Bins int
	// Target is the label column: excluded from the features, its values
	// give the expected class mix (Prediction from "target"). "" for none.
	Target string
	// File names the data in Source.File (its base name is kept).
	File string
	// Predict, when set, is asked for the model's answers on the training
	// rows (see PredictMLflow); they give the prediction mix (from "model")
	// and, with class probabilities, Confidence.
	Predict Predictor
	// CreatedBy is written to Baseline.CreatedBy.
	CreatedBy string
}

// Predictor returns one Answer per row. columns are the input columns;
// values are the CSV cells of those columns ("" when missing), with numeric
// tells which columns are numbers.
type Predictor func(columns []string, numeric []bool, rows [][]string) ([]Answer, error)

// Answer is a model's answer for one row.
type Answer struct {
	// Label is the predicted class as the exporter labels it ("" when the
	// answer is not a class).
	Label string
	// Value is a numeric prediction (regression or score) when HasValue.
	Value    float64
	HasValue bool
	// Confidence is the top-class probability when the model returned class
	// probabilities (HasConfidence).
	Confidence    float64
	HasConfidence bool
}

// CSVError locates a problem in the training CSV.
type CSVError struct {
	// Line is the 1-based line (0 when it is about the whole file).
	Line int
	// Column is the column name ("" when not about one column).
	Column string
	// Msg says what is wrong.
	Msg string
}

func (e *CSVError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// missingCells are the cell values counted as missing (after trimming
// spaces), as pandas reads them by default.
var missingCells = map[string]bool{"": true, "NA": true, "N/A": true, "NaN": true, "nan": true, "NAN": true, "null": true, "NULL": true}

// IsMissing reports whether a CSV cell is a missing value.
func IsMissing(cell string) bool { return missingCells[strings.TrimSpace(cell)] }

// Compute profiles a training CSV (header row first). See docs/baseline.md
// for how bins are chosen. The result is deterministic: the same bytes and
// options give the same baseline.
func Compute(r io.Reader, opts Options) (*Baseline, error) {
	if opts.Bins == 0 {
		opts.Bins = DefaultBins
	}
	if opts.Bins < 2 || opts.Bins > MaxBins {
		return nil, fmt.Errorf("bins: %d, want 2 to %d", opts.Bins, MaxBins)
	}
	h := sha256.New()
	cr := csv.NewReader(io.TeeReader(r, h))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &CSVError{Msg: "empty file; want a header row and data rows"}
	}
	if err != nil {
		return nil, csvErr(err)
	}
	idx := map[string]int{}
	for i, c := range header {
		c = strings.TrimSpace(c)
		header[i] = c
		if c == "" {
			return nil, &CSVError{Line: 1, Msg: fmt.Sprintf("header column %d is empty; name every column", i+1)}
		}
		if _, dup := idx[c]; dup {
			return nil, &CSVError{Line: 1, Column: c, Msg: "appears twice in the header"}
		}
		idx[c] = i
	}
	target := -1
	if opts.Target != "" {
		t, ok := idx[opts.Target]
		if !ok {
			return nil, &CSVError{Line: 1, Column: opts.Target, Msg: fmt.Sprintf("target column not in the header (%s)", strings.Join(header, ", "))}
		}
		target = t
	}
	var rows [][]string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		rows = append(rows, rec)
	}
	if _, err := io.Copy(io.Discard, io.TeeReader(r, h)); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &CSVError{Msg: "no data rows after the header"}
	}
	if len(header) == 1 && target == 0 {
		return nil, &CSVError{Line: 1, Msg: "the target is the only column; there are no features"}
	}
	b := &Baseline{Format: Format, CreatedBy: opts.CreatedBy, Rows: len(rows),
		Source: Source{File: baseName(opts.File), SHA256: hex.EncodeToString(h.Sum(nil)), Target: opts.Target}}
	cols := make([]column, len(header))
	for j, name := range header {
		cols[j] = readColumn(name, rows, j)
	}
	var numeric []bool
	var inputs [][]string
	for j, c := range cols {
		if j == target {
			continue
		}
		b.Columns = append(b.Columns, c.name)
		numeric = append(numeric, c.numeric)
		if c.present == 0 {
			return nil, &CSVError{Column: c.name, Msg: "every value is missing; drop the column or fill it"}
		}
		f, err := c.feature(opts.Bins, len(rows))
		if err != nil {
			return nil, err
		}
		b.Features = append(b.Features, f)
	}
	if target >= 0 {
		if cols[target].present == 0 {
			return nil, &CSVError{Column: opts.Target, Msg: "every target value is missing"}
		}
		b.Prediction = cols[target].prediction(opts.Bins)
		b.Prediction.From = "target"
	}
	if opts.Predict != nil {
		for _, rec := range rows {
			in := make([]string, 0, len(b.Columns))
			for j, v := range rec {
				if j != target {
					in = append(in, v)
				}
			}
			inputs = append(inputs, in)
		}
		ans, err := opts.Predict(b.Columns, numeric, inputs)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		p, err := predictionFromAnswers(ans, opts.Bins)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		b.Prediction = p
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("computed baseline is invalid (a bug): %w", err)
	}
	return b, nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Msg: pe.Err.Error() + " (check quoting and the number of fields per row)"}
	}
	return err
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// column is one CSV column's values.
type column struct {
	name    string
	numeric bool      // every present value parses as a finite float
	nums    []float64 // present values (numeric)
	cats    []string  // present values (categorical)
	present int
}

func readColumn(name string, rows [][]string, j int) column {
	c := column{name: name, numeric: true}
	for _, rec := range rows {
		v := strings.TrimSpace(rec[j])
		if missingCells[v] {
			continue
		}
		c.present++
		c.cats = append(c.cats, v)
		if c.numeric {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				c.numeric, c.nums = false, nil
				continue
			}
			c.nums = append(c.nums, f)
		}
	}
	if c.numeric {
		c.cats = nil
	}
	return c
}

func (c column) feature(bins, rows int) (Feature, error) {
	f := Feature{Name: c.name, Missing: float64(rows-c.present) / float64(rows)}
	if c.numeric {
		sorted := append([]float64(nil), c.nums...)
		sort.Float64s(sorted)
		f.Kind = KindNumeric
		f.Min, f.Max = sorted[0], sorted[len(sorted)-1]
		f.Mean, f.Std = stat.MeanStdDev(sorted, nil)
		if math.IsNaN(f.Std) {
			f.Std = 0 // one value
		}
		// 9 significant digits: the file is the same on every platform
		// (fused multiply-adds may change the last bits).
		f.Mean, f.Std = sig9(f.Mean), sig9(f.Std)
		if math.IsInf(f.Mean, 0) || math.IsInf(f.Std, 0) || math.IsNaN(f.Mean) || math.IsNaN(f.Std) {
			return f, &CSVError{Column: c.name, Msg: "values too large to profile (the mean or standard deviation overflows); rescale the column"}
		}
		var labels []string
		f.Edges, labels = numericEdges(sorted, bins)
		f.Bins = countNumeric(sorted, f.Edges, labels)
		return f, nil
	}
	f.Kind = KindCategorical
	f.Categories = topCategories(c.cats, bins-1)
	counts := make([]int, len(f.Categories)+1)
	for _, v := range c.cats {
		counts[f.CategoryBin(v)]++
	}
	labels := append(append([]string(nil), f.Categories...), OtherLabel)
	f.Bins = makeBins(labels, counts)
	return f, nil
}

// numericEdges chooses the inner edges of a sorted numeric column and the
// bin labels: one bin per distinct value (edges at midpoints) when there are
// at most bins of them, else quantile edges (gonum's empirical quantile at
// i/bins), deduplicated and above the minimum so no bin is empty.
func numericEdges(sorted []float64, bins int) ([]float64, []string) {
	distinct := uniq(sorted)
	if len(distinct) == 1 {
		v := distinct[0]
		return []float64{v}, []string{label(0, 2, "(-inf,"+num(v)+")"), label(1, 2, "["+num(v)+",+inf)")}
	}
	if len(distinct) <= bins {
		edges := make([]float64, len(distinct)-1)
		labels := make([]string, len(distinct))
		for i, v := range distinct {
			if i > 0 {
				edges[i-1] = distinct[i-1]/2 + v/2 // no overflow near ±MaxFloat64
				if edges[i-1] <= distinct[i-1] {
					edges[i-1] = v // neighbours one ulp apart
				}
			}
			labels[i] = label(i, len(distinct), "="+num(v))
		}
		return edges, labels
	}
	var edges []float64
	for i := 1; i < bins; i++ {
		q := stat.Quantile(float64(i)/float64(bins), stat.Empirical, sorted, nil)
		if q <= sorted[0] || (len(edges) > 0 && q <= edges[len(edges)-1]) {
			continue
		}
		edges = append(edges, q)
	}
	if len(edges) == 0 {
		// More than half the values are the minimum: split it off.
		edges = []float64{distinct[1]}
	}
	n := len(edges) + 1
	labels := make([]string, n)
	for i := range labels {
		lo, hi := "(-inf", "+inf)"
		if i > 0 {
			lo = "[" + num(edges[i-1])
		}
		if i < len(edges) {
			hi = num(edges[i]) + ")"
		}
		labels[i] = label(i, n, lo+","+hi)
	}
	return edges, labels
}

func countNumeric(sorted, edges []float64, labels []string) []Bin {
	counts := make([]int, len(edges)+1)
	f := Feature{Edges: edges}
	for _, v := range sorted {
		i, _ := f.NumericBin(v)
		counts[i]++
	}
	return makeBins(labels, counts)
}

// makeBins turns counts into bins whose ratios sum to 1.
func makeBins(labels []string, counts []int) []Bin {
	total := 0
	for _, c := range counts {
		total += c
	}
	out := make([]Bin, len(labels))
	for i, l := range labels {
		out[i] = Bin{Label: l, Count: counts[i]}
		if total > 0 {
			out[i].Ratio = float64(counts[i]) / float64(total)
		}
	}
	return out
}

// topCategories returns the (at most k) most frequent values, ties by value;
// the reserved OtherLabel is never one of them.
func topCategories(vals []string, k int) []string {
	counts := map[string]int{}
	for _, v := range vals {
		if v != OtherLabel {
			counts[v]++
		}
	}
	cats := make([]string, 0, len(counts))
	for v := range counts {
		cats = append(cats, v)
	}
	sort.Slice(cats, func(i, j int) bool {
		if counts[cats[i]] != counts[cats[j]] {
			return counts[cats[i]] > counts[cats[j]]
		}
		return cats[i] < cats[j]
	})
	if len(cats) > k {
		cats = cats[:k]
	}
	return cats
}

func uniq(sorted []float64) []float64 {
	var out []float64
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// label prefixes a bin's range with its zero-padded index so labels sort in
// bin order (two digits, three from 100 bins).
func label(i, n int, rng string) string {
	w := 2
	if n > 100 {
		w = 3
	}
	return fmt.Sprintf("%0*d %s", w, i, rng)
}

func sig9(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 9, 64), 64)
	return r
}

// num formats an edge or value: shortest representation that round-trips.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// prediction is the target column's mix: classes, or value bins for a
// numeric target with more distinct values than bins (regression).
func (c column) prediction(bins int) *Prediction {
	if c.numeric && len(uniq(sortedCopy(c.nums))) > bins {
		sorted := sortedCopy(c.nums)
		edges, labels := numericEdges(sorted, bins)
		return &Prediction{Kind: PredictionValue, Edges: edges, Bins: countNumeric(sorted, edges, labels)}
	}
	labels := make([]string, len(c.cats))
	if c.numeric {
		labels = labels[:0]
		for _, v := range c.nums {
			labels = append(labels, ClassLabel(num(v)))
		}
	} else {
		for i, v := range c.cats {
			labels[i] = ClassLabel(v)
		}
	}
	return classMix(labels)
}

func sortedCopy(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}
