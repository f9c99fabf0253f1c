package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/model"
)

// testBaseline is a baseline of three profiled features (numeric age with
// ten uneven bins, categorical overtime with numeric categories, categorical
// dept with string ones) and an unprofiled column income.
func testBaseline(t testing.TB) *baseline.Baseline {
	t.Helper()
	ratios := []float64{0.02, 0.05, 0.08, 0.12, 0.18, 0.2, 0.15, 0.1, 0.06, 0.04}
	age := baseline.Feature{Name: "age", Kind: baseline.KindNumeric, Min: 20, Max: 60, Mean: 38, Std: 8,
		Edges: []float64{24, 27, 30, 33, 36, 40, 44, 48, 52}}
	for i, r := range ratios {
		age.Bins = append(age.Bins, baseline.Bin{Label: fmt.Sprintf("%02d", i), Count: int(r * 1000), Ratio: r})
	}
	b := &baseline.Baseline{
		Format: baseline.Format, Rows: 1000,
		Columns: []string{"age", "income", "overtime", "dept"},
		Features: []baseline.Feature{
			age,
			{Name: "overtime", Kind: baseline.KindCategorical, Categories: []string{"0", "1"},
				Bins: []baseline.Bin{{Label: "0", Count: 700, Ratio: 0.7}, {Label: "1", Count: 280, Ratio: 0.28}, {Label: "other", Count: 20, Ratio: 0.02}}},
			{Name: "dept", Kind: baseline.KindCategorical, Categories: []string{"sales", "r&d"},
				Bins: []baseline.Bin{{Label: "sales", Count: 450, Ratio: 0.45}, {Label: "r&d", Count: 450, Ratio: 0.45}, {Label: "other", Count: 100, Ratio: 0.1}}},
		},
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	return b
}

// rowsOf decodes a pool's bodies into rows keyed by column.
func rowsOf(t testing.TB, pool [][]byte, format string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, body := range pool {
		if format == SampleInstances {
			var v struct {
				Instances []map[string]any `json:"instances"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			out = append(out, v.Instances...)
			continue
		}
		var v struct {
			Split struct {
				Columns []string `json:"columns"`
				Data    [][]any  `json:"data"`
			} `json:"dataframe_split"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		for _, r := range v.Split.Data {
			m := map[string]any{}
			for i, c := range v.Split.Columns {
				m[c] = r[i]
			}
			out = append(out, m)
		}
	}
	return out
}

// psi scores rows against feature f as the recording rules do: shares per
// bin, floored at 0.0001, Σ (a − e)·ln(a / e).
func psi(t testing.TB, f *baseline.Feature, rows []map[string]any) float64 {
	t.Helper()
	counts := make([]float64, len(f.Bins))
	n := 0.0
	for _, r := range rows {
		var bin int
		switch v := r[f.Name].(type) {
		case float64:
			if f.Kind == baseline.KindNumeric {
				bin, _ = f.NumericBin(v)
			} else {
				bin = f.CategoryBin(strconv.FormatFloat(v, 'f', -1, 64))
			}
		case string:
			bin = f.CategoryBin(v)
		default:
			t.Fatalf("%s: value %v (%T)", f.Name, v, v)
		}
		counts[bin]++
		n++
	}
	const eps = 1e-4
	sum := 0.0
	for i, b := range f.Bins {
		a, e := max(counts[i]/n, eps), max(b.Ratio, eps)
		sum += (a - e) * math.Log(a/e)
	}
	return sum
}

func TestSamplePoolPSI(t *testing.T) {
	b := testBaseline(t)
	tests := []struct {
		name   string
		shifts []Shift
		format string
		// drifted features must score above 0.5, the others below 0.02.
		drifted []string
	}{
		{name: "calm", format: SampleDataframeSplit},
		{name: "calm, instances", format: SampleInstances},
		{name: "age +2sd", shifts: []Shift{{Feature: "age", Op: '+', SD: 2}}, drifted: []string{"age"}},
		{name: "age *1.5", shifts: []Shift{{Feature: "age", Op: '*', Factor: 1.5}}, drifted: []string{"age"}},
		{name: "dept=hr (other)", shifts: []Shift{{Feature: "dept", Op: '=', Value: "hr"}}, drifted: []string{"dept"}},
		{name: "overtime=1", shifts: []Shift{{Feature: "overtime", Op: '=', Value: "1"}}, drifted: []string{"overtime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := SamplePool(b, SampleOptions{Format: tt.format, Shifts: tt.shifts, Seed: 7,
				Example: map[string]float64{"income": 5000}})
			if err != nil {
				t.Fatal(err)
			}
			if len(pool) != DefaultSampleBodies {
				t.Fatalf("%d bodies, want %d", len(pool), DefaultSampleBodies)
			}
			rows := rowsOf(t, pool, tt.format)
			if len(rows) != 2*DefaultSampleBodies {
				t.Fatalf("%d rows, want %d", len(rows), 2*DefaultSampleBodies)
			}
			for _, r := range rows {
				if r["income"] != 5000.0 {
					t.Fatalf("unprofiled column income = %v, want the example's 5000", r["income"])
				}
				if v, ok := r["overtime"].(float64); !ok || v != math.Trunc(v) {
					t.Fatalf("overtime %v (%T): numeric categories must be sent as JSON numbers", r["overtime"], r["overtime"])
				}
			}
			for i := range b.Features {
				f := &b.Features[i]
				p := psi(t, f, rows)
				drifted := false
				for _, d := range tt.drifted {
					drifted = drifted || d == f.Name
				}
				if drifted && p <= 0.5 {
					t.Errorf("%s: PSI %.4f, want > 0.5 (shifted)", f.Name, p)
				}
				if !drifted && p >= 0.02 {
					t.Errorf("%s: PSI %.4f, want < 0.02 (calm)", f.Name, p)
				}
				t.Logf("%s: PSI %.4f", f.Name, p)
			}
		})
	}
}

// TestSamplePoolWholeNumbers: a numeric feature whose range and edges are
// whole numbers (age here) is sampled as whole numbers, also when shifted;
// one with a fractional edge gets fractional values (control).
func TestSamplePoolWholeNumbers(t *testing.T) {
	frac := testBaseline(t)
	frac.Features[0].Edges = append([]float64(nil), frac.Features[0].Edges...)
	frac.Features[0].Edges[0] = 24.5
	for _, tt := range []struct {
		name   string
		b      *baseline.Baseline
		shifts []Shift
		whole  bool
	}{
		{"whole", testBaseline(t), nil, true},
		{"whole, shifted", testBaseline(t), []Shift{{Feature: "age", Op: '*', Factor: 1.37}}, true},
		{"fractional edge (control)", frac, nil, false},
	} {
		pool, err := SamplePool(tt.b, SampleOptions{Bodies: 100, Shifts: tt.shifts, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		fractional := 0
		for _, r := range rowsOf(t, pool, SampleDataframeSplit) {
			if v := r["age"].(float64); v != math.Trunc(v) {
				fractional++
			}
		}
		if (fractional == 0) != tt.whole {
			t.Errorf("%s: %d of 200 ages fractional", tt.name, fractional)
		}
	}
}

// TestSamplePoolNumericInRange: unshifted numeric values stay within the
// training range (the negative control is the shifted pool, which leaves it).
func TestSamplePoolNumericInRange(t *testing.T) {
	b := testBaseline(t)
	for _, tt := range []struct {
		shifts  []Shift
		outside bool
	}{{nil, false}, {[]Shift{{Feature: "age", Op: '+', SD: 2}}, true}} {
		pool, err := SamplePool(b, SampleOptions{Bodies: 200, Shifts: tt.shifts, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		out := 0
		for _, r := range rowsOf(t, pool, SampleDataframeSplit) {
			if v := r["age"].(float64); v < 20 || v > 60 {
				out++
			}
		}
		if (out > 0) != tt.outside {
			t.Errorf("shifts %v: %d of 400 ages outside [20, 60]", tt.shifts, out)
		}
	}
}

func TestParseShift(t *testing.T) {
	b := testBaseline(t)
	tests := []struct {
		in      string
		want    Shift
		parse   string // parse error contains
		checkEr string // check error contains
	}{
		{in: "age=+2sd", want: Shift{Feature: "age", Op: '+', SD: 2}},
		{in: "age=-0.5sd", want: Shift{Feature: "age", Op: '+', SD: -0.5}},
		{in: "age=*1.5", want: Shift{Feature: "age", Op: '*', Factor: 1.5}},
		{in: "dept=hr", want: Shift{Feature: "dept", Op: '=', Value: "hr"}},
		{in: "age=45", want: Shift{Feature: "age", Op: '=', Value: "45"}},
		{in: "age", parse: "FEATURE=+2sd"},
		{in: "=+2sd", parse: "FEATURE=+2sd"},
		{in: "age=+xsd", parse: "standard deviations"},
		{in: "age=*x", parse: "factor"},
		{in: "height=+2sd", want: Shift{Feature: "height", Op: '+', SD: 2}, checkEr: "features: age, overtime, dept"},
		{in: "dept=+1sd", want: Shift{Feature: "dept", Op: '+', SD: 1}, checkEr: "categories: sales, r&d"},
		{in: "age=old", want: Shift{Feature: "age", Op: '=', Value: "old"}, checkEr: "numeric"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShift(tt.in)
			if tt.parse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parse) {
					t.Fatalf("ParseShift = %v, %v; want error with %q", got, err, tt.parse)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseShift = %+v, %v; want %+v", got, err, tt.want)
			}
			if back, err := ParseShift(got.String()); err != nil || back != got {
				t.Errorf("String %q does not parse back: %+v, %v", got.String(), back, err)
			}
			_, err = SamplePool(b, SampleOptions{Bodies: 1, Shifts: []Shift{got}})
			if tt.checkEr == "" && err != nil {
				t.Fatalf("SamplePool: %v", err)
			}
			if tt.checkEr != "" && (err == nil || !strings.Contains(err.Error(), tt.checkEr)) {
				t.Fatalf("SamplePool error %v, want one with %q", err, tt.checkEr)
			}
		})
	}
}

// TestRunCyclesBodies: with Config.Bodies a run sends every pool body in
// turn (both clients), and the error-ratio fraction still gets the invalid
// body.
func TestRunCyclesBodies(t *testing.T) {
	pool := [][]byte{[]byte(`{"n":0}`), []byte(`{"n":1}`), []byte(`{"n":22}`)}
	for _, std := range []bool{false, true} {
		t.Run(fmt.Sprintf("std=%v", std), func(t *testing.T) {
			var mu sync.Mutex
			seen := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				seen[string(body)]++
				mu.Unlock()
				if string(body) == "bad" {
					w.WriteHeader(http.StatusBadRequest)
				}
			}))
			defer srv.Close()
			res, err := Run(context.Background(), Config{URL: srv.URL, Bodies: pool, ContentType: "application/json",
				InvalidBody: []byte("bad"), ErrorRatio: 0.25, Requests: 40, Concurrency: 1, StdClient: std})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 40 || res.Errors != 10 {
				t.Fatalf("%d requests, %d errors; want 40, 10", res.Requests, res.Errors)
			}
			for _, b := range pool {
				if seen[string(b)] < 9 {
					t.Errorf("body %s sent %d times, want each of 30 valid requests to cycle the pool", b, seen[string(b)])
				}
			}
			if seen["bad"] != 10 {
				t.Errorf("invalid body sent %d times, want 10", seen["bad"])
			}
		})
	}
}

// TestSamplePoolDemoBaseline: on the demo model's own baseline (seven
// numeric features, most of them whole numbers: flags, ratings, counts), a
// calm pool scores PSI < 0.02 on every feature and +2sd on age moves only
// age above 0.5.
func TestSamplePoolDemoBaseline(t *testing.T) {
	b, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	for _, shifts := range [][]Shift{nil, {{Feature: "age", Op: '+', SD: 2}}} {
		pool, err := SamplePool(b, SampleOptions{Seed: 9, Shifts: shifts})
		if err != nil {
			t.Fatal(err)
		}
		rows := rowsOf(t, pool, SampleDataframeSplit)
		for i := range b.Features {
			f := &b.Features[i]
			p := psi(t, f, rows)
			shifted := len(shifts) > 0 && f.Name == "age"
			if (shifted && p <= 0.5) || (!shifted && p >= 0.02) {
				t.Errorf("shifts %v: %s PSI %.4f", shifts, f.Name, p)
			}
		}
	}
}
