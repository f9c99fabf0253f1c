package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/stackgen/stackgen/baseline"
)

// Body formats of SampleBodies.
const (
	// SampleDataframeSplit is MLflow's {"dataframe_split": {"columns", "data"}}.
	SampleDataframeSplit = "dataframe_split"
	// SampleInstances is {"instances": [{column: value, …}, …]} (TF Serving's
	// row format; MLflow reads it too).
	SampleInstances = "instances"
)

// DefaultSampleBodies is how many distinct bodies SamplePool pre-generates:
// enough rows (2,048 with two rows a body) for calm traffic to score a PSI
// well under 0.02, and cycled so a request costs no sampling.
const DefaultSampleBodies = 1024

// Shift drifts one feature of sampled rows (`stackgen load --shift`).
type Shift struct {
	// Feature is the baseline feature it applies to.
	Feature string
	// Op is '+' (add SD standard deviations), '*' (multiply by Factor) or
	// '=' (every row gets Value).
	Op byte
	// SD is the number of the feature's training standard deviations
	// added ('+'; negative moves down).
	SD float64
	// Factor multiplies the value ('*').
	Factor float64
	// Value is the value every row gets ('='): a category, or a number.
	Value string
}

// String is the flag form of s.
func (s Shift) String() string {
	switch s.Op {
	case '+':
		return s.Feature + "=" + signed(s.SD) + "sd"
	case '*':
		return s.Feature + "=*" + strconv.FormatFloat(s.Factor, 'g', -1, 64)
	default:
		return s.Feature + "=" + s.Value
	}
}

func signed(f float64) string {
	t := strconv.FormatFloat(f, 'g', -1, 64)
	if f >= 0 {
		t = "+" + t
	}
	return t
}

// ParseShift parses FEATURE=+2sd (or -1.5sd), FEATURE=*1.5 or FEATURE=value.
func ParseShift(s string) (Shift, error) {
	name, v, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || v == "" {
		return Shift{}, fmt.Errorf("%q: want FEATURE=+2sd, FEATURE=*1.5 or FEATURE=value", s)
	}
	sh := Shift{Feature: name}
	switch {
	case strings.HasSuffix(v, "sd") && (v[0] == '+' || v[0] == '-'):
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "sd"), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return Shift{}, fmt.Errorf("%q: %q is not a number of standard deviations (e.g. +2sd)", s, v)
		}
		sh.Op, sh.SD = '+', f
	case v[0] == '*':
		f, err := strconv.ParseFloat(v[1:], 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return Shift{}, fmt.Errorf("%q: %q is not a factor (e.g. *1.5)", s, v)
		}
		sh.Op, sh.Factor = '*', f
	default:
		sh.Op, sh.Value = '=', v
	}
	return sh, nil
}

// check validates s against baseline b: the feature must be profiled, and a
// numeric shift needs a numeric feature.
func (s Shift) check(b *baseline.Baseline) error {
	f := b.Feature(s.Feature)
	if f == nil {
		names := make([]string, len(b.Features))
		for i, f := range b.Features {
			names[i] = f.Name
		}
		return fmt.Errorf("--shift %s: no feature %q in the model's drift baseline (features: %s)", s, s.Feature, strings.Join(names, ", "))
	}
	switch {
	case s.Op == '+' && f.Kind != baseline.KindNumeric, s.Op == '*' && f.Kind != baseline.KindNumeric:
		return fmt.Errorf("--shift %s: feature %q is %s; give a category instead: %s=VALUE (categories: %s)",
			s, f.Name, f.Kind, f.Name, strings.Join(f.Categories, ", "))
	case s.Op == '+' && f.Std <= 0:
		return fmt.Errorf("--shift %s: the baseline has no standard deviation for %q; use %s=*FACTOR", s, f.Name, f.Name)
	case s.Op == '=' && f.Kind == baseline.KindNumeric:
		if _, err := strconv.ParseFloat(s.Value, 64); err != nil {
			return fmt.Errorf("--shift %s: feature %q is numeric; give +Nsd, *FACTOR or a number", s, f.Name)
		}
	}
	return nil
}

// SampleOptions say how SamplePool samples.
type SampleOptions struct {
	// Bodies is the number of bodies (default DefaultSampleBodies).
	Bodies int
	// RowsPerBody is the rows in each body (default 2, like the example).
	RowsPerBody int
	// Format is SampleDataframeSplit (default) or SampleInstances.
	Format string
	// Example holds the value of each column the baseline does not profile
	// (the example payload's); such a column without a value is sent as 0.
	Example map[string]float64
	// Shifts drift features (at most one per feature).
	Shifts []Shift
	// Seed makes the pool reproducible.
	Seed uint64
}

// SamplePool pre-generates request bodies whose rows are sampled from
// baseline b: for every row and profiled feature a bin is drawn with its
// expected share, then a value uniform within the bin's range clipped to the
// training range [Min, Max] (numeric; a whole number when the range and
// edges are whole numbers, as for counts, flags and ratings), or the bin's category (categorical;
// "other" repeats the first category's value with a suffix, so it lands in
// "other"). Columns are b.Columns in order. Shifts are applied after
// sampling. A category that reads as a number is sent as that JSON number.
//
// The pool is built once; Config.Bodies cycles through it, so sending a
// sampled body costs what sending the fixed example costs.
func SamplePool(b *baseline.Baseline, o SampleOptions) ([][]byte, error) {
	if b == nil || len(b.Columns) == 0 {
		return nil, errors.New("sample: the baseline lists no columns")
	}
	if o.Bodies <= 0 {
		o.Bodies = DefaultSampleBodies
	}
	if o.RowsPerBody <= 0 {
		o.RowsPerBody = 2
	}
	switch o.Format {
	case "":
		o.Format = SampleDataframeSplit
	case SampleDataframeSplit, SampleInstances:
	default:
		return nil, fmt.Errorf("sample: unknown format %q", o.Format)
	}
	shifts := map[string]Shift{}
	for _, s := range o.Shifts {
		if err := s.check(b); err != nil {
			return nil, err
		}
		if _, dup := shifts[s.Feature]; dup {
			return nil, fmt.Errorf("--shift: feature %q shifted twice", s.Feature)
		}
		shifts[s.Feature] = s
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	cols := make([]column, len(b.Columns))
	for i, c := range b.Columns {
		cols[i] = newColumn(b.Feature(c), o.Example[c])
		if s, ok := shifts[c]; ok {
			cols[i].shift = &s
		}
	}
	names, err := json.Marshal(b.Columns)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	keys := make([][]byte, len(b.Columns))
	for i, c := range b.Columns {
		keys[i], _ = json.Marshal(c)
	}
	pool := make([][]byte, o.Bodies)
	var buf bytes.Buffer
	for n := range pool {
		buf.Reset()
		if o.Format == SampleDataframeSplit {
			buf.WriteString(`{"dataframe_split":{"columns":`)
			buf.Write(names)
			buf.WriteString(`,"data":[`)
		} else {
			buf.WriteString(`{"instances":[`)
		}
		for r := range o.RowsPerBody {
			if r > 0 {
				buf.WriteByte(',')
			}
			open, close := byte('['), byte(']')
			if o.Format == SampleInstances {
				open, close = '{', '}'
			}
			buf.WriteByte(open)
			for i := range cols {
				if i > 0 {
					buf.WriteByte(',')
				}
				if o.Format == SampleInstances {
					buf.Write(keys[i])
					buf.WriteByte(':')
				}
				buf.WriteString(cols[i].sample(rng))
			}
			buf.WriteByte(close)
		}
		buf.WriteString("]}")
		if o.Format == SampleDataframeSplit {
			buf.WriteByte('}')
		}
		pool[n] = bytes.Clone(buf.Bytes())
	}
	return pool, nil
}

// column samples one column's JSON values.
type column struct {
	f     *baseline.Feature // nil: not profiled, always fixed
	fixed string
	cum   []float64 // cumulative bin ratios
	shift *Shift
	// integer: the feature's range and edges are whole numbers (a count, a
	// flag, a rating), so sampled values are whole numbers too.
	integer bool
}

func newColumn(f *baseline.Feature, example float64) column {
	c := column{f: f, fixed: number(example)}
	if f == nil {
		return c
	}
	if f.Kind == baseline.KindNumeric {
		c.integer = whole(f.Min) && whole(f.Max)
		for _, e := range f.Edges {
			c.integer = c.integer && whole(e)
		}
	}
	sum := 0.0
	c.cum = make([]float64, len(f.Bins))
	for i, b := range f.Bins {
		sum += b.Ratio
		c.cum[i] = sum
	}
	return c
}

func (c *column) sample(rng *rand.Rand) string {
	f := c.f
	if f == nil {
		return c.fixed
	}
	if c.shift != nil && c.shift.Op == '=' {
		return categoryJSON(c.shift.Value)
	}
	u := rng.Float64() * c.cum[len(c.cum)-1]
	bin := sort.SearchFloat64s(c.cum, u)
	if bin < len(c.cum)-1 && c.cum[bin] == u {
		bin++ // u == cum[bin] belongs to the next bin
	}
	bin = min(bin, len(f.Bins)-1)
	if f.Kind == baseline.KindCategorical {
		if bin < len(f.Categories) {
			return categoryJSON(f.Categories[bin])
		}
		return categoryJSON(otherValue(f))
	}
	lo, hi := f.Min, f.Max
	if bin > 0 {
		lo = max(lo, f.Edges[bin-1])
	}
	if bin < len(f.Edges) {
		hi = min(hi, f.Edges[bin])
	}
	v := lo
	switch {
	case c.integer:
		// A whole number in [lo, hi), or [lo, Max] in the last bin.
		n := math.Ceil(hi) - lo
		if bin == len(f.Edges) {
			n = math.Floor(hi) - lo + 1
		}
		if n > 0 {
			v = lo + math.Floor(rng.Float64()*n)
		}
	case hi > lo:
		v = lo + rng.Float64()*(hi-lo) // [lo, hi): stays in the bin
	}
	if s := c.shift; s != nil {
		switch s.Op {
		case '+':
			v += s.SD * f.Std
		case '*':
			v *= s.Factor
		}
		if c.integer {
			v = math.Round(v)
		}
	}
	return number(v)
}

// whole reports whether v is a whole number.
func whole(v float64) bool { return v == math.Trunc(v) && !math.IsInf(v, 0) }

// otherValue is a value of categorical feature f that is none of its
// categories: a number above every numeric category, else "other-value".
func otherValue(f *baseline.Feature) string {
	top, numeric := math.Inf(-1), len(f.Categories) > 0
	for _, c := range f.Categories {
		v, err := strconv.ParseFloat(c, 64)
		if err != nil {
			numeric = false
			break
		}
		top = max(top, v)
	}
	if numeric {
		return strconv.FormatFloat(math.Floor(top)+1, 'f', -1, 64)
	}
	return "other-value"
}

// categoryJSON writes a category as the JSON the exporter labels it by: a
// category that is JSON number text is sent as that number (the demo model
// takes numbers only), anything else as a string.
func categoryJSON(s string) string {
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) && json.Valid([]byte(s)) {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// number formats v with at most 4 decimals, shortest form, rounding down so
// that a value sampled in [lo, hi) does not round up into the next bin.
func number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(math.Floor(v*1e4)/1e4, 'f', -1, 64)
}
