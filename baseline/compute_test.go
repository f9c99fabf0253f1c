package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func labels(bins []Bin) []string {
	out := make([]string, len(bins))
	for i, b := range bins {
		out[i] = b.Label
	}
	return out
}

func counts(bins []Bin) []int {
	out := make([]int, len(bins))
	for i, b := range bins {
		out[i] = b.Count
	}
	return out
}

// column renders a one-column CSV (plus a target) from values.
func csvOf(name string, vals ...string) string {
	return name + "\n" + strings.Join(vals, "\n") + "\n"
}

func seq(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i + 1)
	}
	return out
}

func TestComputeNumeric(t *testing.T) {
	tests := []struct {
		name       string
		csv        string
		bins       int
		wantEdges  []float64
		wantLabels []string
		wantCounts []int
		missing    float64
	}{
		{name: "quantiles of 1..100 in 4 bins", csv: csvOf("x", seq(100)...), bins: 4,
			wantEdges:  []float64{25, 50, 75},
			wantLabels: []string{"00 (-inf,25)", "01 [25,50)", "02 [50,75)", "03 [75,+inf)"},
			wantCounts: []int{24, 25, 25, 26}},
		{name: "few distinct values: one bin each, edges at midpoints", csv: csvOf("x", "1", "2", "2", "4", "4", "4"), bins: 10,
			wantEdges:  []float64{1.5, 3},
			wantLabels: []string{"00 =1", "01 =2", "02 =4"},
			wantCounts: []int{1, 2, 3}},
		{name: "constant column: two bins around the value", csv: csvOf("x", "5", "5", "5"), bins: 10,
			wantEdges:  []float64{5},
			wantLabels: []string{"00 (-inf,5)", "01 [5,+inf)"},
			wantCounts: []int{0, 3}},
		{name: "ties at the minimum: no empty first bin", csv: csvOf("x", append([]string{"0", "0", "0", "0", "0", "0", "0"}, seq(5)...)...), bins: 4,
			// gonum's empirical quantiles are 0, 0, 2: the 0s are dropped.
			wantEdges:  []float64{2},
			wantLabels: []string{"00 (-inf,2)", "01 [2,+inf)"},
			wantCounts: []int{8, 4}},
		{name: "missing cells are not binned", csv: csvOf("x", "1", "", "NA", "NaN", "2"), bins: 10,
			wantEdges:  []float64{1.5},
			wantLabels: []string{"00 =1", "01 =2"},
			// encoding/csv skips the blank line: 4 rows, 2 missing.
			wantCounts: []int{1, 1}, missing: 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Compute(strings.NewReader(tc.csv), Options{Bins: tc.bins})
			if err != nil {
				t.Fatal(err)
			}
			f := b.Features[0]
			if f.Kind != KindNumeric {
				t.Fatalf("kind %s", f.Kind)
			}
			if !reflect.DeepEqual(f.Edges, tc.wantEdges) {
				t.Errorf("edges %v, want %v", f.Edges, tc.wantEdges)
			}
			if got := labels(f.Bins); !reflect.DeepEqual(got, tc.wantLabels) {
				t.Errorf("labels %q, want %q", got, tc.wantLabels)
			}
			if got := counts(f.Bins); !reflect.DeepEqual(got, tc.wantCounts) {
				t.Errorf("counts %v, want %v", got, tc.wantCounts)
			}
			if f.Missing != tc.missing {
				t.Errorf("missing %g, want %g", f.Missing, tc.missing)
			}
		})
	}
}

func TestComputeCategoricalAndTarget(t *testing.T) {
	data := "dept,score,y\n" +
		"sales,1,yes\nsales,2,no\nhr,3,no\nit,4,no\nrd,5,yes\nit,6,no\n,7,no\nother,8,yes\n"
	b, err := Compute(strings.NewReader(data), Options{Bins: 3, Target: "y", File: "/tmp/x/train.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Columns, []string{"dept", "score"}) {
		t.Errorf("columns %v", b.Columns)
	}
	d := b.Features[0]
	// Top 2 by count, ties by value: it(2) and sales(2); hr, rd and the
	// literal "other" go to "other".
	if d.Kind != KindCategorical || !reflect.DeepEqual(d.Categories, []string{"it", "sales"}) {
		t.Errorf("categories %v (%s)", d.Categories, d.Kind)
	}
	if got := counts(d.Bins); !reflect.DeepEqual(got, []int{2, 2, 3}) {
		t.Errorf("counts %v", got)
	}
	if d.Missing != 0.125 {
		t.Errorf("missing %g", d.Missing)
	}
	p := b.Prediction
	if p == nil || p.Kind != PredictionClass || p.From != "target" || !reflect.DeepEqual(labels(p.Bins), []string{"no", "yes"}) || !reflect.DeepEqual(counts(p.Bins), []int{5, 3}) {
		t.Errorf("prediction %+v", p)
	}
	if b.Source.File != "train.csv" || b.Source.Target != "y" || len(b.Source.SHA256) != 64 || b.Rows != 8 {
		t.Errorf("source %+v rows %d", b.Source, b.Rows)
	}
}

func TestClassLabelMatchesExporter(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "1.0": "1", "0": "0", "-2": "-2", "0.5": "0.5", "yes": "yes", "+1": "+1", "true": "true", "1e3": "1000"} {
		if got := ClassLabel(in); got != want {
			t.Errorf("ClassLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestComputeRoundTripAndDeterminism(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("a,b,c,t\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&rows, "%d,%g,%s,%d\n", i%37, float64(i*i%101)/7, []string{"x", "y", "z"}[i%3], i%2)
	}
	first, err := Compute(strings.NewReader(rows.String()), Options{Target: "t"})
	if err != nil {
		t.Fatal(err)
	}
	out1, err := first.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	second, _ := Compute(strings.NewReader(rows.String()), Options{Target: "t"})
	out2, _ := second.Marshal()
	if !bytes.Equal(out1, out2) {
		t.Error("two runs on the same bytes differ")
	}
	back, err := Parse(out1)
	if err != nil {
		t.Fatalf("Parse refuses Compute's output: %v", err)
	}
	if !reflect.DeepEqual(back, first) {
		t.Errorf("round trip changed the baseline")
	}
	// Negative control: different data, different baseline.
	other, _ := Compute(strings.NewReader(strings.Replace(rows.String(), "\n1,", "\n2,", 1)), Options{Target: "t"})
	if reflect.DeepEqual(other.Features, first.Features) || other.Source.SHA256 == first.Source.SHA256 {
		t.Error("changed data gave the same baseline")
	}
}

func TestComputeErrors(t *testing.T) {
	tests := []struct {
		name, csv string
		opts      Options
		line      int
		column    string
		want      string
	}{
		{name: "empty", csv: "", want: "empty file"},
		{name: "header only", csv: "a,b\n", want: "no data rows"},
		{name: "ragged row", csv: "a,b\n1,2\n3\n", line: 3, want: "wrong number of fields"},
		{name: "unknown target", csv: "a,b\n1,2\n", opts: Options{Target: "y"}, line: 1, column: "y", want: "not in the header"},
		{name: "duplicate header", csv: "a,a\n1,2\n", line: 1, column: "a", want: "twice"},
		{name: "all missing", csv: "a,b\n1,\n2,NA\n", column: "b", want: "every value is missing"},
		{name: "too few bins", csv: "a\n1\n", opts: Options{Bins: 1}, want: "bins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(strings.NewReader(tc.csv), tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			var ce *CSVError
			if errors.As(err, &ce) {
				if ce.Line != tc.line || ce.Column != tc.column {
					t.Errorf("located at line %d column %q, want %d %q", ce.Line, ce.Column, tc.line, tc.column)
				}
			} else if tc.line != 0 || tc.column != "" {
				t.Errorf("error %v is not a *CSVError", err)
			}
		})
	}
}
