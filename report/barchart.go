package report

import (
	"context"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// A Grafana barchart panel as the dashboards write it: instant table
// queries ("instant": true, "format": "table"), one per series (its legend
// format names it: "actual", "baseline"), merged into one table by a
// merge transformation, with options.xField naming the label whose values
// are the x axis ("bin"). The report draws it the same way: every query
// evaluated at To, one group of bars per x value in natural order, one bar
// (and colour) per query.

// maxBarCategories bounds the x values drawn (the first in natural order).
const maxBarCategories = 100

// Bars is a bar chart's table: Values[series][category].
type Bars struct {
	Categories []string
	Series     []BarSeries
	// Omitted counts x values beyond maxBarCategories, not drawn.
	Omitted int
}

// BarSeries is one query's bars (NaN: no value at that x).
type BarSeries struct {
	Name   string
	Color  string
	Values []float64
}

// instantSeries evaluates a bar chart's query at To: one Series per sample
// (one point at To), its Category the panel's xField label.
func instantSeries(ctx context.Context, o Options, t Target, xField string) ([]Series, string) {
	ctx, cancel := context.WithTimeout(ctx, o.QueryTimeout)
	defer cancel()
	v, _, _, err := o.API.Query(ctx, t.Expr, o.To, v1.WithTimeout(o.QueryTimeout))
	if err != nil {
		return nil, fmt.Sprintf("query %s: %v", t.RefID, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Sprintf("query %s: Prometheus answered a %s, not a vector", t.RefID, v.Type())
	}
	sort.Sort(vec)
	out := make([]Series, 0, len(vec))
	for _, smp := range vec {
		out = append(out, Series{Name: legend(t.Legend, smp.Metric), Category: string(smp.Metric[model.LabelName(xField)]),
			Points: []Point{{T: o.To.UTC(), V: float64(smp.Value)}}})
	}
	return out, ""
}

// buildBars turns a bar chart's samples into its table: x values in
// natural order, series in query order (first sample wins for a repeated
// series and x value).
func buildBars(ss []Series) *Bars {
	b := &Bars{}
	cats := map[string]bool{}
	index := map[string]int{}
	for _, s := range ss {
		if !cats[s.Category] {
			cats[s.Category] = true
			b.Categories = append(b.Categories, s.Category)
		}
		if _, ok := index[s.Name]; !ok {
			index[s.Name] = len(b.Series)
			b.Series = append(b.Series, BarSeries{Name: s.Name, Color: palette[len(b.Series)%len(palette)]})
		}
	}
	sort.SliceStable(b.Categories, func(i, j int) bool { return naturalLess(b.Categories[i], b.Categories[j]) })
	if len(b.Categories) > maxBarCategories {
		b.Omitted = len(b.Categories) - maxBarCategories
		b.Categories = b.Categories[:maxBarCategories]
	}
	col := make(map[string]int, len(b.Categories))
	for i, c := range b.Categories {
		col[c] = i
	}
	for i := range b.Series {
		b.Series[i].Values = make([]float64, len(b.Categories))
		for j := range b.Series[i].Values {
			b.Series[i].Values[j] = math.NaN()
		}
	}
	for _, s := range ss {
		j, ok := col[s.Category]
		if !ok || len(s.Points) == 0 {
			continue
		}
		row := b.Series[index[s.Name]].Values
		if math.IsNaN(row[j]) {
			row[j] = s.Points[len(s.Points)-1].V
		}
	}
	return b
}

var numPrefix = regexp.MustCompile(`^\s*([+-]?(?:Inf|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))`)

// naturalLess orders x values as people read bins: by their numeric
// prefix when both have one ("2" < "10" < "10-20" < "+Inf"), values with
// a number before those without, then lexically.
func naturalLess(a, b string) bool {
	na, oka := leadingNumber(a)
	nb, okb := leadingNumber(b)
	switch {
	case oka && okb && na != nb:
		return na < nb
	case oka != okb:
		return oka
	}
	return a < b
}

func leadingNumber(s string) (float64, bool) {
	m := numPrefix.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(m[1], 64)
	return f, err == nil
}

// drawBars draws a bar chart with gonum/plot: groups of bars at the x
// values, one bar per series in its legend colour, the panel's unit on
// the y axis (missing values are left out of their group).
func drawBars(w io.Writer, p PanelData) error {
	b := p.Bars
	pl := plot.New()
	pl.Y.Tick.Marker = unitTicks{unit: p.Unit}
	pl.NominalX(b.Categories...)
	wpx, hpx := chartSize(p.Panel)
	chars := 0
	for _, c := range b.Categories {
		chars += len(c) + 2
	}
	if chars*7 > wpx-70 {
		// Labels would overlap: slant them, as Grafana's xTickLabelRotation -45 does.
		pl.X.Tick.Label.Rotation = math.Pi / 4
		pl.X.Tick.Label.XAlign = draw.XRight
		pl.X.Tick.Label.YAlign = draw.YCenter
	}
	n := max(len(b.Series), 1)
	group := (float64(wpx) - 70) * pointsPerPixelPt / float64(max(len(b.Categories), 1)) * 0.8
	width := vg.Length(math.Max(group/float64(n), 1))
	lo, hi := 0.0, 0.0
	for i, s := range b.Series {
		c, err := parseHex(s.Color)
		if err != nil {
			return err
		}
		vals := make(plotter.Values, len(s.Values))
		for j, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue // zero height: no bar
			}
			vals[j] = v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return fmt.Errorf("series %s: %w", s.Name, err)
		}
		bc.Color = c
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(float64(i)-float64(n-1)/2) * width
		pl.Add(bc)
	}
	if p.Min != nil {
		lo = math.Min(lo, *p.Min)
	}
	if hi <= lo {
		hi = lo + 1
	}
	pl.Y.Min, pl.Y.Max = lo, hi+(hi-lo)*0.05
	if p.Max != nil && *p.Max >= hi {
		pl.Y.Max = *p.Max
	}
	g := plotter.NewGrid()
	g.Vertical.Color = nil // the x axis is nominal
	pl.Add(g)
	return writePNG(w, pl, wpx, hpx)
}
