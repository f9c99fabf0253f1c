package drift

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

// The promtool unit tests below are generated: each window is a set of bin
// and class counts; the test feeds them as counters growing linearly over
// the window (so increase() is exact under both range semantics) and
// compares every recorded series with the value computed here, in Go, from
// the counts: shares, per-bin PSI terms, PSI and the effective threshold.

const (
	ptInterval = "1m"
	ptSteps    = 10 // samples 0..10m; the test spec's window is 10m
	ptEvalTime = "10m"
	// promtool compares values exactly and Prometheus versions round
	// differently: both sides compare round(value · ptScale), an integer.
	ptScale = 1e9
)

// window is one evaluation's traffic: rows per bin of each feature (in bin
// order), rows per predicted class, and confidence sum/count.
type window struct {
	name     string
	features map[string][]float64
	classes  map[string]float64
	confSum  float64
	confN    float64
	// old and oldClasses are what an exporter with a previous baseline
	// counted in the first half of the window before it was replaced (bins
	// and classes the current baseline does not have, by feature): their
	// series stop and go stale, and the rules must not count them.
	old        map[string]map[string]float64
	oldClasses map[string]float64
}

type ptSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type ptSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

type ptExpr struct {
	Expr       string     `yaml:"expr"`
	EvalTime   string     `yaml:"eval_time"`
	ExpSamples []ptSample `yaml:"exp_samples"`
}

type ptTest struct {
	Name     string     `yaml:"name,omitempty"`
	Interval string     `yaml:"interval"`
	Input    []ptSeries `yaml:"input_series"`
	Exprs    []ptExpr   `yaml:"promql_expr_test"`
}

type ptFile struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []ptTest `yaml:"tests"`
}

func promLabels(metric string, kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+strconv.Quote(kv[i+1]))
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

func roundTo(v float64) float64 { return math.Floor(v*ptScale + 0.5) }

// linear is a counter growing from 0 to total over the window.
func linear(total float64) string {
	return strconv.FormatFloat(0, 'g', -1, 64) + "+" + strconv.FormatFloat(total/ptSteps, 'g', -1, 64) + "x" + strconv.Itoa(ptSteps)
}

func constant(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64) + "x" + strconv.Itoa(ptSteps)
}

// replaced is a series of a replaced exporter: it grows from 0 to total (or
// stays at v, for a gauge) over the window's first half, then goes stale.
func replaced(total float64, gauge bool) string {
	half := strconv.Itoa(ptSteps / 2)
	if gauge {
		return strconv.FormatFloat(total, 'g', -1, 64) + "x" + half + " stale"
	}
	return "0+" + strconv.FormatFloat(total/(ptSteps/2), 'g', -1, 64) + "x" + half + " stale"
}

// expectation is what the test computes itself for one window.
type expectation struct {
	psi, threshold, rows map[string]float64 // per feature
	binPSI               map[[2]string]float64
	share                map[[2]string]float64
	predPSI, predThr     float64
	predRows             float64
	confMean             float64
	hasRows, hasPred     bool
}

// expect computes the recorded values of w with the Go formulas.
func expect(sp Spec, w window) expectation {
	sp = sp.withDefaults()
	b := sp.Baseline
	q := sp.Quantile()
	e := expectation{psi: map[string]float64{}, threshold: map[string]float64{}, rows: map[string]float64{},
		binPSI: map[[2]string]float64{}, share: map[[2]string]float64{}}
	for _, f := range b.Features {
		counts := w.features[f.Name]
		exp := make([]float64, len(f.Bins))
		for i, bin := range f.Bins {
			exp[i] = bin.Ratio
		}
		psi, terms, ok := PSI(counts, exp)
		if !ok {
			continue
		}
		n := 0.0
		for _, c := range counts {
			n += c
		}
		e.hasRows = true
		e.psi[f.Name], e.rows[f.Name] = psi, n
		e.threshold[f.Name] = Threshold(sp.Threshold, q, len(f.Bins), n, baselineRows(b, f.Bins))
		for i, bin := range f.Bins {
			e.binPSI[[2]string{f.Name, bin.Label}] = terms[i]
			e.share[[2]string{f.Name, bin.Label}] = counts[i] / n
		}
	}
	if p := classMix(b); p != nil {
		var counts, exp []float64
		known := map[string]bool{}
		for _, bin := range p.Bins {
			counts = append(counts, w.classes[bin.Label])
			exp = append(exp, bin.Ratio)
			known[bin.Label] = true
		}
		// A class the baseline does not know is expected at share 0.
		for c, n := range w.classes {
			if !known[c] {
				counts = append(counts, n)
				exp = append(exp, 0)
			}
		}
		if psi, _, ok := PSI(counts, exp); ok {
			n := 0.0
			for _, c := range counts {
				n += c
			}
			e.hasPred, e.predPSI, e.predRows = true, psi, n
			e.predThr = Threshold(sp.Threshold, q, len(p.Bins), n, baselineRows(b, p.Bins))
		}
	}
	if w.confN > 0 {
		e.confMean = w.confSum / w.confN
	}
	return e
}

// promtoolTest builds the promtool test of windows against the rendered rules of sp.
// wrong, when set, is added to the first expected PSI (the negative control).
func promtoolTest(sp Spec, windows []window, wrong float64) ptFile {
	f := ptFile{RuleFiles: []string{"rules.yml"}, EvaluationInterval: "1m"}
	m := stack.ModelLabel
	for _, w := range windows {
		t := ptTest{Name: w.name, Interval: ptInterval}
		target := []string{"job", stack.DefaultJobName, "instance", sp.Model + "-exporter:8000", m, sp.Model}
		with := func(kv ...string) []string { return append(append([]string{}, target...), kv...) }
		for _, ft := range sp.Baseline.Features {
			for i, bin := range ft.Bins {
				c := 0.0
				if cs := w.features[ft.Name]; cs != nil {
					c = cs[i]
				}
				l := with(stack.LabelFeature, ft.Name, stack.LabelBin, bin.Label)
				t.Input = append(t.Input,
					ptSeries{promLabels(stack.MetricFeatureBin, l...), linear(c)},
					ptSeries{promLabels(stack.MetricFeatureBaselineRatio, l...), constant(bin.Ratio)})
			}
		}
		for _, ft := range sp.Baseline.Features {
			labels := make([]string, 0, len(w.old[ft.Name]))
			for bin := range w.old[ft.Name] {
				labels = append(labels, bin)
			}
			sort.Strings(labels)
			for _, bin := range labels {
				l := with(stack.LabelFeature, ft.Name, stack.LabelBin, bin)
				t.Input = append(t.Input,
					ptSeries{promLabels(stack.MetricFeatureBin, l...), replaced(w.old[ft.Name][bin], false)},
					ptSeries{promLabels(stack.MetricFeatureBaselineRatio, l...), replaced(0.25, true)})
			}
		}
		if p := sp.Baseline.Prediction; p != nil {
			for _, c := range sortedKeys(w.oldClasses) {
				l := with(stack.LabelClass, c)
				t.Input = append(t.Input,
					ptSeries{promLabels(MetricPredictions, l...), replaced(w.oldClasses[c], false)},
					ptSeries{promLabels(stack.MetricPredictionBaselineRatio, l...), replaced(0.5, true)})
			}
			for _, bin := range p.Bins {
				t.Input = append(t.Input, ptSeries{promLabels(stack.MetricPredictionBaselineRatio, with(stack.LabelClass, bin.Label)...), constant(bin.Ratio)})
			}
			classes := make([]string, 0, len(w.classes))
			for c := range w.classes {
				classes = append(classes, c)
			}
			sort.Strings(classes)
			for _, c := range classes {
				t.Input = append(t.Input, ptSeries{promLabels(MetricPredictions, with(stack.LabelClass, c)...), linear(w.classes[c])})
			}
			if w.confN > 0 {
				t.Input = append(t.Input,
					ptSeries{promLabels(stack.MetricPredictionConfidence+"_sum", target...), linear(w.confSum)},
					ptSeries{promLabels(stack.MetricPredictionConfidence+"_count", target...), linear(w.confN)})
			}
		}
		e := expect(sp, w)
		check := func(record string, samples []ptSample) {
			sort.Slice(samples, func(i, j int) bool { return samples[i].Labels < samples[j].Labels })
			t.Exprs = append(t.Exprs, ptExpr{Expr: "round((" + record + ") * " + num(ptScale) + ")", EvalTime: ptEvalTime, ExpSamples: samples})
		}
		var psi, thr, rows, bins, shares []ptSample
		for _, ft := range sp.Baseline.Features {
			if _, ok := e.psi[ft.Name]; !ok {
				continue
			}
			l := []string{m, sp.Model, stack.LabelFeature, ft.Name}
			v := e.psi[ft.Name] + wrong
			wrong = 0
			psi = append(psi, ptSample{promLabels("", l...), roundTo(v)})
			thr = append(thr, ptSample{promLabels("", l...), roundTo(e.threshold[ft.Name])})
			rows = append(rows, ptSample{promLabels("", l...), roundTo(e.rows[ft.Name])})
			for _, bin := range ft.Bins {
				k := [2]string{ft.Name, bin.Label}
				bl := append(append([]string{}, l...), stack.LabelBin, bin.Label)
				bins = append(bins, ptSample{promLabels("", bl...), roundTo(e.binPSI[k])})
				shares = append(shares, ptSample{promLabels("", bl...), roundTo(e.share[k])})
			}
		}
		check(stack.RecFeaturePSI, psi)
		// The alert condition: which features are above their threshold.
		var alarm []ptSample
		for _, ft := range sp.Baseline.Features {
			if e.rows[ft.Name] >= float64(sp.MinSamples) && e.psi[ft.Name] > e.threshold[ft.Name] {
				alarm = append(alarm, ptSample{promLabels("", m, sp.Model, stack.LabelFeature, ft.Name), roundTo(e.psi[ft.Name])})
			}
		}
		check(stack.RecFeaturePSI+" > on ("+m+", "+stack.LabelFeature+") "+stack.RecFeaturePSIThreshold+
			" and on ("+m+", "+stack.LabelFeature+") "+stack.RecFeatureRows+" >= "+strconv.Itoa(sp.MinSamples), alarm)
		check(stack.RecFeaturePSIThreshold, thr)
		check(stack.RecFeatureRows, rows)
		check(stack.RecFeatureBinPSI, bins)
		check(stack.RecFeatureBinShare, shares)
		if classMix(sp.Baseline) != nil {
			var pp, pt []ptSample
			if e.hasPred {
				pp = []ptSample{{promLabels("", m, sp.Model), roundTo(e.predPSI)}}
				pt = []ptSample{{promLabels("", m, sp.Model), roundTo(e.predThr)}}
			}
			check(stack.RecPredictionPSI, pp)
			check(stack.RecPredictionPSIThreshold, pt)
		}
		if sp.Baseline.Prediction != nil && sp.Baseline.Prediction.Confidence != nil {
			var cm []ptSample
			if w.confN > 0 {
				cm = []ptSample{{promLabels("", m, sp.Model), roundTo(e.confMean)}}
			}
			check(stack.RecPredictionConfidenceMean, cm)
		}
		f.Tests = append(f.Tests, t)
	}
	return f
}

// runPromtool writes sp's rules and the generated test into a folder and
// runs `promtool test rules`; it returns promtool's output and success.
func runPromtool(t *testing.T, promtool string, sp Spec, f ptFile) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), renderRules(t, sp), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "test.yml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// scale returns the baseline shares of a feature times n (calm traffic).
func scale(sp Spec, feature string, n float64) []float64 {
	f := sp.Baseline.Feature(feature)
	out := make([]float64, len(f.Bins))
	for i, b := range f.Bins {
		out[i] = b.Ratio * n
	}
	return out
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func testWindows(sp Spec) []window {
	calm := window{name: "calm: shares equal the baseline", features: map[string][]float64{}, classes: map[string]float64{"0": 700, "1": 300}, confSum: 800, confN: 1000}
	for _, f := range sp.Baseline.Features {
		calm.features[f.Name] = scale(sp, f.Name, 1000)
	}
	drift := window{name: "drift: age shifted up, an empty bin, an unknown class", features: map[string][]float64{
		"age":    {0, 100, 300, 600},
		"income": scale(sp, "income", 250),
		"dept":   {120, 60, 70},
	}, classes: map[string]float64{"0": 100, "1": 120, "other": 30}, confSum: 150, confN: 250}
	small := window{name: "small window: the noise term wins", features: map[string][]float64{
		"age": {3, 7, 5, 5}, "income": {2, 1, 3, 2, 1, 3, 2, 2, 3, 1}, "dept": {9, 7, 4},
	}, classes: map[string]float64{"0": 20}}
	idle := window{name: "idle: no rows, no series", features: map[string][]float64{}, classes: map[string]float64{}}
	// The baseline was replaced half a window ago: the old exporter's bins
	// (other age edges, other categories) and classes still have increases
	// in the window, new traffic matches the new baseline exactly. Counting
	// the old rows in N made age's PSI 0.368 in the reviewer's measurement.
	switched := window{name: "baseline switch: the replaced exporter's bins and classes are not counted",
		features: map[string][]float64{}, classes: map[string]float64{"0": 350, "1": 150}, confSum: 400, confN: 500,
		old: map[string]map[string]float64{
			"age":  {"0 <25": 300, "1 [25,45)": 400, "2 >=45": 300},
			"dept": {"ops": 250},
		},
		oldClasses: map[string]float64{"no": 400, "yes": 100}}
	for _, f := range sp.Baseline.Features {
		switched.features[f.Name] = scale(sp, f.Name, 500)
	}
	return []window{calm, drift, small, idle, switched}
}

func TestRulesComputePSIWithPromtool(t *testing.T) {
	promtool := testtool.Path(t, "apt-get install prometheus", "promtool")
	sp := testSpec()
	cases := []struct {
		name   string
		wrong  float64
		wantOK bool
	}{
		{"values computed in Go", 0, true},
		// Negative control: a PSI off by 0.001 must make promtool fail.
		{"one PSI off by 0.001", 0.001, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, ok := runPromtool(t, promtool, sp, promtoolTest(sp, testWindows(sp), c.wrong))
			if ok != c.wantOK {
				t.Fatalf("promtool test rules: ok=%v, want %v\n%s", ok, c.wantOK, out)
			}
		})
	}
}

// TestGoFormulas pins the Go side against hand-computed values, so the
// promtool comparison is not a formula checked against itself.
func TestGoFormulas(t *testing.T) {
	cases := []struct {
		name           string
		actual, expect []float64
		want           float64
	}{
		{"equal", []float64{50, 50}, []float64{0.5, 0.5}, 0},
		// (0.8−0.5)·ln(0.8/0.5) + (0.2−0.5)·ln(0.2/0.5) = 0.3·0.470004 + 0.3·0.916291
		{"shifted", []float64{80, 20}, []float64{0.5, 0.5}, 0.3*math.Log(1.6) + 0.3*math.Log(2.5)},
		// empty bin: floor 0.0001
		{"empty", []float64{0, 10}, []float64{0.5, 0.5}, (0.0001-0.5)*math.Log(0.0001/0.5) + 0.5*math.Log(2)},
	}
	for _, c := range cases {
		got, _, ok := PSI(c.actual, c.expect)
		if !ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: PSI = %v (ok %v), want %v", c.name, got, ok, c.want)
		}
	}
	if _, _, ok := PSI([]float64{0, 0}, []float64{0.5, 0.5}); ok {
		t.Error("PSI of an empty window is ok")
	}
	// χ²_0.95(1) = 3.841459, χ²_0.999(9) = 27.877165 (tables).
	for _, c := range []struct {
		q    float64
		bins int
		want float64
	}{{0.95, 2, 3.841459}, {0.999, 10, 27.877165}} {
		if got := ChiSquare(c.q, c.bins); math.Abs(got-c.want) > 1e-5 {
			t.Errorf("ChiSquare(%v, %d) = %v, want %v", c.q, c.bins, got, c.want)
		}
	}
	if got := Threshold(0.2, 0.999, 10, 100, 1000); math.Abs(got-27.877165*(0.01+0.001)) > 1e-6 {
		t.Errorf("Threshold(100 rows) = %v", got)
	}
	if got := Threshold(0.2, 0.999, 10, 1e6, 1e6); got != 0.2 {
		t.Errorf("Threshold(large) = %v, want the fixed 0.2", got)
	}
	_ = fmt.Sprint
}
