package alerting

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"
	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/drift"
	"github.com/stackgen/stackgen/internal/testtool"
	stackmodel "github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/stack"
)

// driftKinds are covered by TestDriftAlertsWithPromtool.
var driftKinds = []string{stack.AlertFeatureDrift, stack.AlertPredictionDrift, stack.AlertConfidenceDrop}

// driftTraffic is one model's traffic over the 10m drift window: the share
// of rows per bin of each feature (rows = 600, one per second), per class,
// and the mean confidence.
type driftTraffic struct {
	shares   map[string][]float64
	classes  map[string]float64
	confMean float64
}

// recorded is what the recording rules must hold for one model, computed
// here with the drift package's Go formulas (pinned there by hand-computed
// values): the fake query function the expected annotations are expanded
// with answers from it.
type recorded map[string]map[string]float64 // series name → label string → value

func (r recorded) put(name, key string, v float64) {
	if r[name] == nil {
		r[name] = map[string]float64{}
	}
	r[name][key] = v
}

const driftRows = 600.0

// driftStack writes a baseline with a confidence mean (the demo's plus
// 0.8) and a stack with models hot and cold using it, window 10m.
func driftStack(t *testing.T) (*stack.Stack, *baseline.Baseline) {
	t.Helper()
	b, err := stackmodel.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	b.Prediction.Confidence = &baseline.Confidence{Mean: 0.8, Rows: b.Rows}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "baseline.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	src := `name: unit
alerting: {engine: prometheus, defaults: false}
models:
  - {name: hot, kind: demo, drift: {baseline: baseline.json, window: 10m, min_samples: 100}}
  - {name: cold, kind: demo, drift: {baseline: baseline.json, window: 10m, min_samples: 100}}
alerts:
  - {name: feature_drift, kind: feature_drift, for: 1m, severity: warning}
  - {name: prediction_drift, kind: prediction_drift, for: 1m, severity: warning}
  - {name: confidence_drop, kind: confidence_drop, threshold: 0.1, for: 1m, severity: warning}
`
	p := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return s, b
}

func ratiosOf(bins []baseline.Bin) []float64 {
	out := make([]float64, len(bins))
	for i, b := range bins {
		out[i] = b.Ratio
	}
	return out
}

// expectRecorded computes the recorded values of model m under traffic tr.
func expectRecorded(sp drift.Spec, tr driftTraffic) recorded {
	r := recorded{}
	b := sp.Baseline
	q := sp.Quantile()
	m := sp.Model
	for _, f := range b.Features {
		counts := make([]float64, len(f.Bins))
		for i, s := range tr.shares[f.Name] {
			counts[i] = s * driftRows
		}
		psi, terms, _ := drift.PSI(counts, ratiosOf(f.Bins))
		key := fmt.Sprintf("{model=%q,feature=%q}", m, f.Name)
		r.put(stack.RecFeaturePSI, key, psi)
		r.put(stack.RecFeatureRows, key, driftRows)
		r.put(stack.RecFeaturePSIThreshold, key, drift.Threshold(sp.Threshold, q, len(f.Bins), driftRows, float64(sumCounts(f.Bins))))
		for i, bin := range f.Bins {
			bk := fmt.Sprintf("{model=%q,feature=%q,bin=%q}", m, f.Name, bin.Label)
			r.put(stack.RecFeatureBinPSI, bk, terms[i])
			r.put(stack.RecFeatureBinShare, bk, counts[i]/driftRows)
			r.put(stack.MetricFeatureBaselineRatio, bk, bin.Ratio)
		}
	}
	p := b.Prediction
	counts := make([]float64, len(p.Bins))
	for i, bin := range p.Bins {
		counts[i] = tr.classes[bin.Label] * driftRows
	}
	psi, terms, _ := drift.PSI(counts, ratiosOf(p.Bins))
	key := fmt.Sprintf("{model=%q}", m)
	r.put(stack.RecPredictionPSI, key, psi)
	r.put(stack.RecPredictionRows, key, driftRows)
	r.put(stack.RecPredictionPSIThreshold, key, drift.Threshold(sp.Threshold, q, len(p.Bins), driftRows, float64(sumCounts(p.Bins))))
	for i, bin := range p.Bins {
		ck := fmt.Sprintf("{model=%q,class=%q}", m, bin.Label)
		r.put(stack.RecPredictionClassPSI, ck, terms[i])
		r.put(stack.RecPredictionClassShare, ck, counts[i]/driftRows)
		r.put(stack.MetricPredictionBaselineRatio, ck, bin.Ratio)
	}
	r.put(stack.RecPredictionConfidenceMean, key, tr.confMean)
	return r
}

func sumCounts(bins []baseline.Bin) int {
	n := 0
	for _, b := range bins {
		n += b.Count
	}
	return n
}

// fakeQuery answers the annotation templates' queries from rec: a selector
// of a recorded series, max(...) of one, or sort_desc(topk(3, ...)).
func fakeQuery(t *testing.T, rec recorded) template.QueryFunc {
	return func(_ context.Context, q string, _ time.Time) (promql.Vector, error) {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Errorf("annotation query %q: %v", q, err)
			return nil, err
		}
		var vs *parser.VectorSelector
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if v, ok := n.(*parser.VectorSelector); ok {
				vs = v
			}
			return nil
		})
		var out promql.Vector
		for key, v := range rec[vs.Name] {
			l, err := parser.NewParser(parser.Options{}).ParseMetric(key)
			if err != nil {
				t.Fatal(err)
			}
			match := true
			for _, m := range vs.LabelMatchers {
				if m.Name != labels.MetricName && !m.Matches(l.Get(m.Name)) {
					match = false
				}
			}
			if match {
				out = append(out, promql.Sample{F: v, Metric: l})
			}
		}
		if strings.HasPrefix(q, "sort_desc(topk(3,") {
			sort.Slice(out, func(i, j int) bool { return out[i].F > out[j].F })
			if len(out) > 3 {
				out = out[:3]
			}
		}
		return out, nil
	}
}

// expandWith renders r's annotations for an alert with labels l, answering
// queries from rec.
func expandWith(t *testing.T, r Rule, l map[string]string, value float64, rec recorded) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, text := range map[string]string{"summary": r.Summary("$value"), "description": r.Description()} {
		defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
		data := template.AlertTemplateData(l, nil, "", promql.Sample{F: value, Metric: labels.FromMap(l)})
		e := template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+r.Name, data, model.Time(0), fakeQuery(t, rec), nil, nil)
		v, err := e.Expand()
		if err != nil {
			t.Fatalf("expand %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func TestDriftAlertsWithPromtool(t *testing.T) {
	testtool.Path(t, "apt-get install prometheus", "promtool")
	s, b := driftStack(t)
	specs := drift.Specs(s)
	if len(specs) != 2 {
		t.Fatalf("%d drift specs, want 2", len(specs))
	}
	calm := driftTraffic{shares: map[string][]float64{}, classes: map[string]float64{}, confMean: 0.8}
	for _, f := range b.Features {
		calm.shares[f.Name] = ratiosOf(f.Bins)
	}
	for _, c := range b.Prediction.Bins {
		calm.classes[c.Label] = c.Ratio
	}
	hot := driftTraffic{shares: map[string][]float64{}, classes: map[string]float64{"0": 0.3, "1": 0.7}, confMean: 0.6}
	for k, v := range calm.shares {
		hot.shares[k] = v
	}
	hot.shares["age"] = []float64{0, 0, 0.02, 0.03, 0.05, 0.1, 0.15, 0.19, 0.21, 0.25}
	traffic := map[string]driftTraffic{"hot": hot, "cold": calm}

	var in []promSeries
	rec := map[string]recorded{}
	for _, sp := range specs {
		tr := traffic[sp.Model]
		rec[sp.Model] = expectRecorded(sp, tr)
		target := map[string]string{"job": stack.DefaultJobName, "instance": sp.Model + "-exporter:8000", "model": sp.Model}
		with := func(kv ...string) map[string]string {
			l := copyLabels(target)
			for i := 0; i < len(kv); i += 2 {
				l[kv[i]] = kv[i+1]
			}
			return l
		}
		for _, f := range sp.Baseline.Features {
			for i, bin := range f.Bins {
				l := with(stack.LabelFeature, f.Name, stack.LabelBin, bin.Label)
				in = append(in, promSeries{seriesString(stack.MetricFeatureBin, l), linear(tr.shares[f.Name][i])},
					promSeries{seriesString(stack.MetricFeatureBaselineRatio, l), constant(bin.Ratio)})
			}
		}
		for _, c := range sp.Baseline.Prediction.Bins {
			l := with(stack.LabelClass, c.Label)
			in = append(in, promSeries{seriesString(drift.MetricPredictions, l), linear(tr.classes[c.Label])},
				promSeries{seriesString(stack.MetricPredictionBaselineRatio, l), constant(c.Ratio)})
		}
		in = append(in, promSeries{seriesString(stack.MetricPredictionConfidence+"_sum", target), linear(tr.confMean)},
			promSeries{seriesString(stack.MetricPredictionConfidence+"_count", target), linear(1)})
	}

	byKind := map[string]Rule{}
	for _, r := range mustRules(t, s) {
		if r.Model == "hot" {
			byKind[r.Alert.Kind] = r
		}
	}
	hr := rec["hot"]
	psiAge := hr[stack.RecFeaturePSI][`{model="hot",feature="age"}`]
	thrAge := hr[stack.RecFeaturePSIThreshold][`{model="hot",feature="age"}`]
	if psiAge <= thrAge {
		t.Fatalf("test traffic: age PSI %.3f not above its threshold %.3f", psiAge, thrAge)
	}
	base := map[string]string{"model": "hot", "severity": "warning", "stack": "unit"}
	featureLabels := copyLabels(base)
	featureLabels["feature"] = "age"
	predPSI := hr[stack.RecPredictionPSI][`{model="hot"}`] / hr[stack.RecPredictionPSIThreshold][`{model="hot"}`]
	cases := []struct {
		kind   string
		labels map[string]string
		value  float64
	}{
		{stack.AlertFeatureDrift, featureLabels, psiAge / thrAge},
		{stack.AlertPredictionDrift, base, predPSI},
		{stack.AlertConfidenceDrop, base, 0.2},
	}
	var tests []promAlertTest
	for _, c := range cases {
		r, ok := byKind[c.kind]
		if !ok {
			t.Fatalf("no %s rule for model hot", c.kind)
		}
		ann := expandWith(t, r, c.labels, c.value, hr)
		t.Logf("%s:\n  summary: %s\n  description: %s", c.kind, ann["summary"], ann["description"])
		tests = append(tests,
			promAlertTest{EvalTime: "20m", Alertname: r.Name, ExpAlerts: []promExpAlert{{ExpLabels: c.labels, ExpAnnotations: ann}}},
			// Within the first window the rows are below min_samples: nothing fires.
			promAlertTest{EvalTime: "1m", Alertname: r.Name, ExpAlerts: []promExpAlert{}})
	}
	if want := fmt.Sprintf("PSI %.3f above its effective threshold %.3f (600 rows in the last 10m)", psiAge, thrAge); !strings.Contains(tests[0].ExpAlerts[0].ExpAnnotations["summary"], want) {
		t.Errorf("feature_drift summary %q lacks %q", tests[0].ExpAlerts[0].ExpAnnotations["summary"], want)
	}
	if d := tests[0].ExpAlerts[0].ExpAnnotations["description"]; strings.Count(d, "expected ") != 3 || !strings.Contains(d, "Panel: http://") {
		t.Errorf("feature_drift description does not list 3 bins: %q", d)
	}

	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	dfiles, err := drift.Render(s, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var ruleFiles []string
	for _, sp := range specs {
		name := "drift-" + sp.Model + ".yml"
		if err := os.WriteFile(filepath.Join(dir, name), dfiles[drift.RulesPath(sp.Model)], 0o644); err != nil {
			t.Fatal(err)
		}
		ruleFiles = append(ruleFiles, name)
	}
	tf := promTestFile{RuleFiles: append(ruleFiles, "drift.rules.yml"), EvaluationInterval: "15s", Tests: []promTest{{
		Name: "drift", Interval: testInterval, InputSeries: in, AlertRuleTest: tests,
	}}}
	writeAndRun(t, dir, "drift", files[PrometheusRulesPath], tf)

	// Negative control: a PSI off by 0.001 in the expected summary fails.
	bad := tf
	bad.Tests = []promTest{tf.Tests[0]}
	bad.Tests[0].AlertRuleTest = append([]promAlertTest{}, tests...)
	wrong := copyLabels(tests[0].ExpAlerts[0].ExpAnnotations)
	wrong["summary"] = strings.Replace(wrong["summary"], fmt.Sprintf("PSI %.3f", psiAge), fmt.Sprintf("PSI %.3f", psiAge+0.001), 1)
	bad.Tests[0].AlertRuleTest[0] = promAlertTest{EvalTime: "20m", Alertname: tests[0].Alertname, ExpAlerts: []promExpAlert{{ExpLabels: featureLabels, ExpAnnotations: wrong}}}
	if ok := runPromtoolOK(t, dir, "drift-bad", files[PrometheusRulesPath], bad); ok {
		t.Error("promtool accepted a wrong PSI in the expected summary")
	}
}

// runPromtoolOK writes rules and tf like writeAndRun and reports whether
// promtool test rules passes.
func runPromtoolOK(t *testing.T, dir, name string, rules []byte, tf promTestFile) bool {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := yaml.Marshal(tf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".test.yml"), tb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "test", "rules", name+".test.yml")
	cmd.Dir = dir
	return cmd.Run() == nil
}

// TestGrafanaDriftRulesQueryWhatTheyShow: every $values.X a Grafana drift
// annotation names is a refId of its rule, and Grafana's structural checks
// accept the rules; a rule missing its PSI query is refused by the same
// reference check (negative control).
func TestGrafanaDriftRulesQueryWhatTheyShow(t *testing.T) {
	s, _ := driftStack(t)
	s = setEngine(s, stack.EngineGrafana)
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckGrafana(files, []string{stack.GrafanaDatasourceUID}); err != nil {
		t.Fatal(err)
	}
	var f GrafanaRulesFile
	if err := strictUnmarshal(files[GrafanaRulesPath], &f); err != nil {
		t.Fatal(err)
	}
	refsOf := func(r GrafanaRule) map[string]bool {
		out := map[string]bool{}
		for _, q := range r.Data {
			out[q.RefID] = true
		}
		return out
	}
	missing := func(r GrafanaRule, refs map[string]bool) []string {
		var out []string
		for _, text := range r.Annotations {
			for _, part := range strings.Split(text, "$values.")[1:] {
				ref := strings.FieldsFunc(part, func(c rune) bool { return c == '.' || c == ' ' || c == '}' })[0]
				if !refs[ref] {
					out = append(out, ref)
				}
			}
		}
		return out
	}
	kinds := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			for _, k := range driftKinds {
				if strings.HasPrefix(r.Title, k+"_") {
					kinds[k] = true
				}
			}
			if m := missing(r, refsOf(r)); len(m) > 0 {
				t.Errorf("%s: annotations name refIds %v the rule does not query", r.Title, m)
			}
			refs := refsOf(r)
			delete(refs, RefDriftPSI)
			if len(r.Data) > 3 && len(missing(r, refs)) == 0 {
				t.Errorf("%s: the check misses a dropped %s query", r.Title, RefDriftPSI)
			}
		}
	}
	if len(kinds) != len(driftKinds) {
		t.Errorf("grafana drift rules for %v, want all of %v", kinds, driftKinds)
	}
}

// TestCheckPrometheusRulesReadsDriftRules: validate's rule check also
// parses the drift recording rules, and names the file of a broken one.
func TestCheckPrometheusRulesReadsDriftRules(t *testing.T) {
	s, _ := driftStack(t)
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	dfiles, err := drift.Render(s, "")
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range dfiles {
		files[p] = b
	}
	if err := CheckPrometheusRules(files); err != nil {
		t.Fatalf("rendered rules refused: %v", err)
	}
	p := drift.RulesPath("hot")
	files[p] = []byte(strings.Replace(string(files[p]), "sum by", "sum bye", 1))
	if err := CheckPrometheusRules(files); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("broken %s: error %v, want one naming it", p, err)
	}
}

// TestGrafanaDriftSummaryExpands expands the Grafana summaries with data
// shaped like Grafana's (ngalert state/template.Data: $labels, $values by
// refId) through Prometheus' template engine, which Grafana's is built on.
func TestGrafanaDriftSummaryExpands(t *testing.T) {
	s, _ := driftStack(t)
	s = setEngine(s, stack.EngineGrafana)
	type value struct {
		Labels map[string]string
		Value  float64
	}
	type data struct {
		Labels map[string]string
		Values map[string]value
		Value  string
	}
	l := map[string]string{"model": "hot", "feature": "age"}
	vals := map[string]value{RefDriftPSI: {l, 1.7771}, RefDriftThreshold: {l, 0.2}, RefDriftRows: {l, 600}, RefReduce: {l, 8.9}}
	want := map[string]string{
		stack.AlertFeatureDrift:    "model hot: feature age drifted: PSI 1.777 above its effective threshold 0.200 (600 rows in the last 10m)",
		stack.AlertPredictionDrift: "model hot: the predicted-class mix drifted: PSI 1.777 above its effective threshold 0.200 (600 predictions in the last 10m)",
		stack.AlertConfidenceDrop:  "model hot: mean top-class confidence 1.777 over the last 10m is more than 0.1 below the baseline's 0.8",
	}
	n := 0
	for _, r := range mustRules(t, s) {
		if r.Model != "hot" || want[r.Alert.Kind] == "" {
			continue
		}
		n++
		text := "{{- $labels := .Labels -}}{{- $values := .Values -}}{{- $value := .Value -}}" + r.Summary("$values."+RefReduce+".Value")
		e := template.NewTemplateExpander(context.Background(), text, "x", data{Labels: l, Values: vals}, model.Time(0), nil, nil, []string{"missingkey=invalid"})
		got, err := e.Expand()
		if err != nil {
			t.Fatalf("%s: %v", r.Title, err)
		}
		if got != want[r.Alert.Kind] {
			t.Errorf("%s: summary %q, want %q", r.Title, got, want[r.Alert.Kind])
		}
	}
	if n != len(want) {
		t.Errorf("checked %d drift summaries, want %d", n, len(want))
	}
}
