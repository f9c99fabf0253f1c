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

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
	"gopkg.in/yaml.v3"

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

// The promtool unit tests below are generated: for every built-in alert kind
// on every source it supports, a stack with models "hot" (its series must
// fire), "cold" (must not) and, for low_traffic, "idle" (no requests at all:
// must fire) renders its Prometheus rules, and promtool checks which alerts
// fire at 20m with which labels and annotations. Counters grow linearly and
// samples are 15s apart, so rates are exact under both the left-closed
// (promtool 2.x) and left-open (Prometheus 3) range semantics.

const (
	testInterval = "15s"
	testEvalTime = "20m"
	testSteps    = 100 // 25m of samples
)

// series is one input series: labels and promtool's expanding notation.
type series struct {
	labels map[string]string
	values string
}

// fires is an expected alert: the model and the value in the summary.
type fires struct {
	model string
	value float64
	extra map[string]string // labels besides alertname, model, severity, stack
}

type kindCase struct {
	kind      string
	source    string
	threshold float64
	window    string
	series    func(model string) []series // per model
	models    []string
	fire      []fires
}

func linear(perSecond float64) string { // counter growing perSecond from 0
	return fmt.Sprintf("0+%gx%d", perSecond*15, testSteps)
}

func constant(v float64) string { return fmt.Sprintf("%gx%d", v, testSteps) }

// reqs returns request counters of a model on a source: ok and failed requests per second,
// plus (exporter) requests on the exporter's own routes that alerts must ignore.
func reqs(src, m string, ok, failed, monitoring float64) []series {
	var out []series
	if src == stack.SourceExporter {
		base := map[string]string{"job": stack.DefaultJobName, "model": m, "method": "POST", "route": "/predict"}
		add := func(code, route string, rate float64) {
			if rate == 0 {
				return
			}
			l := copyLabels(base)
			l["code"], l["route"] = code, route
			if route != "/predict" {
				l["method"] = "GET"
			}
			out = append(out, series{l, linear(rate)})
		}
		add("200", "/predict", ok)
		add("400", "/predict", failed)
		add("200", "/metrics", monitoring)
		add("503", "/readyz", monitoring)
		return out
	}
	base := map[string]string{"job": ModelServerJob, "model": m, "model_name": m}
	if ok > 0 {
		l := copyLabels(base)
		l["status"] = "OK"
		out = append(out, series{l, linear(ok)})
	}
	if failed > 0 {
		l := copyLabels(base)
		l["status"] = "INVALID_ARGUMENT"
		out = append(out, series{l, linear(failed)})
	}
	return out
}

// buckets returns a latency histogram: per second, n requests faster than
// 0.1s and n between 0.1s and 1s; exporter /metrics scrapes slower than 1s
// must be ignored.
func buckets(src, m string, fast, slow float64) []series {
	name, job, les := "http_request_duration_seconds_bucket", stack.DefaultJobName, []string{"0.1", "1", "+Inf"}
	extra := map[string]string{"route": "/predict", "method": "POST", "code": "200"}
	if src == stack.SourceModelServer {
		name, job, les = ":tensorflow:serving:request_latency_bucket", ModelServerJob, []string{"100000", "1000000", "+Inf"}
		extra = map[string]string{"model_name": m, "API": "predict", "entrypoint": "REST"}
	}
	var out []series
	cum := []float64{fast, fast + slow, fast + slow}
	for i, le := range les {
		l := map[string]string{"__name__": name, "job": job, "model": m, "le": le}
		for k, v := range extra {
			l[k] = v
		}
		out = append(out, series{l, linear(cum[i])})
		if src == stack.SourceExporter {
			s := copyLabels(l)
			s["route"], s["method"] = "/metrics", "GET"
			v := 0.0
			if le == "+Inf" {
				v = 5
			}
			out = append(out, series{s, linear(v)})
		}
	}
	return out
}

func up(src, m string, v float64) series {
	job := stack.DefaultJobName
	if src == stack.SourceModelServer {
		job = ModelServerJob
	}
	return series{map[string]string{"__name__": "up", "job": job, "model": m, "instance": m + ":8000"}, constant(v)}
}

func kindCases() []kindCase {
	var out []kindCase
	for _, src := range []string{stack.SourceExporter, stack.SourceModelServer} {
		src := src
		upExtra := func(m string) map[string]string {
			job := stack.DefaultJobName
			if src == stack.SourceModelServer {
				job = ModelServerJob
			}
			return map[string]string{"job": job, "instance": m + ":8000"}
		}
		out = append(out,
			kindCase{kind: stack.AlertRequestRateHigh, source: src, threshold: 5, window: "1m",
				series: func(m string) []series {
					if m == "hot" {
						return reqs(src, m, 10, 0, 0)
					}
					return reqs(src, m, 1, 0, 100)
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 10}}},
			kindCase{kind: stack.AlertLatencyP95High, source: src, threshold: 0.5, window: "5m",
				series: func(m string) []series {
					if m == "hot" {
						return buckets(src, m, 0, 1)
					}
					return buckets(src, m, 1, 0)
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 0.955}}},
			kindCase{kind: stack.AlertLatencyP99High, source: src, threshold: 0.5, window: "5m",
				series: func(m string) []series {
					if m == "hot" {
						return buckets(src, m, 0, 1)
					}
					return buckets(src, m, 1, 0)
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 0.991}}},
			kindCase{kind: stack.AlertErrorRatioHigh, source: src, threshold: 0.05, window: "5m",
				series: func(m string) []series {
					if m == "hot" {
						return reqs(src, m, 9, 1, 0)
					}
					return reqs(src, m, 10, 0, 10)
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 0.1}}},
			kindCase{kind: stack.AlertTargetDown, source: src,
				series: func(m string) []series {
					if m == "hot" {
						return []series{up(src, m, 0)}
					}
					return []series{up(src, m, 1)}
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 0, extra: upExtra("hot")}}},
			kindCase{kind: stack.AlertLowTraffic, source: src, threshold: 0.5, window: "5m",
				series: func(m string) []series {
					switch m {
					case "hot":
						return append(reqs(src, m, 0.1, 0, 100), up(src, m, 1))
					case "idle":
						return []series{up(src, m, 1)}
					}
					return append(reqs(src, m, 10, 0, 0), up(src, m, 1))
				},
				models: []string{"hot", "cold", "idle"}, fire: []fires{{model: "hot", value: 0.1}, {model: "idle", value: 0}}},
			kindCase{kind: stack.AlertTrafficSpike, source: src, threshold: 3,
				series: func(m string) []series {
					if m == "hot" {
						// idle for 17m, then 4 req/s: rate[1m] = 4, rate[15m] = 0.8.
						s := reqs(src, m, 1, 0, 0)[0]
						s.values = fmt.Sprintf("0x68 60+60x%d", testSteps-69)
						return []series{s}
					}
					return reqs(src, m, 1, 0, 100)
				},
				models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 5}}},
		)
		if src == stack.SourceExporter {
			out = append(out,
				kindCase{kind: stack.AlertMemoryHigh, source: src, threshold: 512, window: "5m",
					series: func(m string) []series {
						v := 100.0
						if m == "hot" {
							v = 1024
						}
						return []series{{map[string]string{"__name__": "process_resident_memory_bytes", "job": stack.DefaultJobName, "model": m, "instance": m + ":8000"}, constant(v * 1048576)}}
					},
					models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 1024}}},
				kindCase{kind: stack.AlertCPUHigh, source: src, threshold: 0.5, window: "5m",
					series: func(m string) []series {
						v := 0.1
						if m == "hot" {
							v = 0.8
						}
						return []series{{map[string]string{"__name__": "process_cpu_seconds_total", "job": stack.DefaultJobName, "model": m, "instance": m + ":8000"}, linear(v)}}
					},
					models: []string{"hot", "cold"}, fire: []fires{{model: "hot", value: 0.8}}},
			)
		}
	}
	return out
}

// TestKindCasesCoverCatalog makes sure a new kind cannot ship without a promtool test.
func TestKindCasesCoverCatalog(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range kindCases() {
		covered[c.kind+"/"+c.source] = true
	}
	// Drift kinds: TestDriftAlertsWithPromtool (drift_test.go).
	for _, k := range driftKinds {
		covered[k+"/"+stack.SourceExporter] = true
	}
	for _, k := range stack.AlertKindNames() {
		if k == stack.AlertCustom {
			continue
		}
		for _, src := range stack.AlertKinds[k].Sources {
			if !covered[k+"/"+src] {
				t.Errorf("no promtool test for %s on %s", k, src)
			}
		}
	}
}

// promtool test file format.
type promTestFile struct {
	RuleFiles          []string   `yaml:"rule_files"`
	EvaluationInterval string     `yaml:"evaluation_interval"`
	Tests              []promTest `yaml:"tests"`
}

type promTest struct {
	Name          string          `yaml:"name"`
	Interval      string          `yaml:"interval"`
	InputSeries   []promSeries    `yaml:"input_series"`
	AlertRuleTest []promAlertTest `yaml:"alert_rule_test"`
}

type promSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type promAlertTest struct {
	EvalTime  string         `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []promExpAlert `yaml:"exp_alerts"`
}

type promExpAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

func TestPromtoolUnitTests(t *testing.T) {
	testtool.Path(t, "apt-get install prometheus", "promtool")
	dir := t.TempDir()
	for _, c := range kindCases() {
		name := c.kind + "_" + c.source
		t.Run(name, func(t *testing.T) {
			rules, tf := generateKindTest(t, c)
			writeAndRun(t, dir, name, rules, tf)
		})
	}
	t.Run("custom", func(t *testing.T) {
		src := `name: unit
alerting: {engine: prometheus, defaults: false}
models:
  - {name: hot, kind: demo}
  - {name: cold, kind: demo}
alerts:
  - {name: failing_requests, kind: custom, expr: 'sum by (model) (rate(http_requests_total{code=~"4.."}[5m])) > 0', for: 1m}
`
		s := parseStack(t, src)
		var in []promSeries
		for _, sr := range append(reqs(stack.SourceExporter, "hot", 9, 1, 0), reqs(stack.SourceExporter, "cold", 10, 0, 0)...) {
			in = append(in, promSeries{seriesString("http_requests_total", sr.labels), sr.values})
		}
		r := mustRules(t, s)[0]
		want := promExpAlert{
			ExpLabels:      map[string]string{"model": "hot", "severity": "warning", "stack": "unit"},
			ExpAnnotations: expandAnnotations(t, r, map[string]string{"model": "hot"}, 1),
		}
		if want.ExpAnnotations["summary"] != "failing_requests on model hot: value 1" {
			t.Errorf("custom summary = %q", want.ExpAnnotations["summary"])
		}
		tf := promTestFile{RuleFiles: []string{"custom.rules.yml"}, EvaluationInterval: "15s", Tests: []promTest{{
			Name: "custom", Interval: testInterval, InputSeries: in,
			AlertRuleTest: []promAlertTest{{EvalTime: testEvalTime, Alertname: "failing_requests", ExpAlerts: []promExpAlert{want}}},
		}}}
		files, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		writeAndRun(t, dir, "custom", files[PrometheusRulesPath], tf)
	})
}

func mustRules(t *testing.T, s *stack.Stack) []Rule {
	t.Helper()
	rules, err := Rules(s)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// generateKindTest renders the rules of one kind case and its promtool test.
func generateKindTest(t *testing.T, c kindCase) ([]byte, promTestFile) {
	t.Helper()
	name := c.kind + "_" + c.source
	var b strings.Builder
	fmt.Fprintf(&b, "name: unit\nalerting: {engine: prometheus, defaults: false}\nmodels:\n")
	for _, m := range c.models {
		fmt.Fprintf(&b, "  - {name: %s, kind: demo}\n", m)
	}
	fmt.Fprintf(&b, "alerts:\n  - {name: %s, kind: %s, source: %s, for: 1m, severity: critical", name, c.kind, c.source)
	if stack.AlertKinds[c.kind].NeedsThreshold {
		fmt.Fprintf(&b, ", threshold: %g", c.threshold)
	}
	if stack.AlertKinds[c.kind].NeedsFactor {
		fmt.Fprintf(&b, ", factor: %g", c.threshold)
	}
	if c.window != "" {
		fmt.Fprintf(&b, ", window: %s", c.window)
	}
	b.WriteString("}\n")
	s := parseStack(t, b.String())
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	byModel := map[string]Rule{}
	for _, r := range mustRules(t, s) {
		byModel[r.Model] = r
	}
	var in []promSeries
	for _, m := range c.models {
		for _, sr := range c.series(m) {
			metric := sr.labels["__name__"]
			if metric == "" {
				metric = "http_requests_total"
				if c.source == stack.SourceModelServer {
					metric = ":tensorflow:serving:request_count"
				}
			}
			in = append(in, promSeries{seriesString(metric, sr.labels), sr.values})
		}
	}
	var exp []promExpAlert
	for _, f := range c.fire {
		l := map[string]string{"model": f.model, "severity": "critical", "stack": "unit"}
		for k, v := range f.extra {
			l[k] = v
		}
		exp = append(exp, promExpAlert{ExpLabels: l, ExpAnnotations: expandAnnotations(t, byModel[f.model], l, f.value)})
	}
	tf := promTestFile{
		RuleFiles:          []string{name + ".rules.yml"},
		EvaluationInterval: "15s",
		Tests: []promTest{{
			Name:        name,
			Interval:    testInterval,
			InputSeries: in,
			AlertRuleTest: []promAlertTest{
				{EvalTime: testEvalTime, Alertname: name, ExpAlerts: exp},
				// Not yet firing right at the start: no data, or "for" not elapsed.
				{EvalTime: "30s", Alertname: name, ExpAlerts: []promExpAlert{}},
			},
		}},
	}
	return files[PrometheusRulesPath], tf
}

// seriesString renders metric{labels} in promtool's series notation.
func seriesString(metric string, l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// expandAnnotations renders r's annotations the way Prometheus does for an
// alert with these labels and value.
func expandAnnotations(t *testing.T, r Rule, l map[string]string, value float64) map[string]string {
	t.Helper()
	out := map[string]string{}
	ann := map[string]string{"summary": r.Summary("$value"), "description": r.Description()}
	for k, text := range ann {
		defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
		data := template.AlertTemplateData(l, nil, "", promql.Sample{F: value, Metric: labels.FromMap(l)})
		e := template.NewTemplateExpander(context.Background(), defs+text, "__alert_"+r.Name, data, model.Time(0), nil, nil, nil)
		v, err := e.Expand()
		if err != nil {
			t.Fatalf("expand %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func writeAndRun(t *testing.T, dir, name string, rules []byte, tf promTestFile) {
	t.Helper()
	rf := filepath.Join(dir, name+".rules.yml")
	if err := os.WriteFile(rf, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := yaml.Marshal(tf)
	if err != nil {
		t.Fatal(err)
	}
	tfp := filepath.Join(dir, name+".test.yml")
	if err := os.WriteFile(tfp, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "test", "rules", filepath.Base(tfp))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n--- rules\n%s\n--- test\n%s", err, out, rules, tb)
	}
}

func copyLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}
