package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stackgen/stackgen/alerting"
	"github.com/stackgen/stackgen/exporter"
	"github.com/stackgen/stackgen/modelserver"
	"github.com/stackgen/stackgen/prometheus"
	"github.com/stackgen/stackgen/stack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Fixture stacks, parsed like stack.yaml.
const (
	demoYAML = `name: demo
models:
  - name: demo
    kind: demo
`
	// seed 000: an MLflow model behind the exporter, default job name.
	mlflowYAML = `name: attrition
models:
  - name: attrition
    kind: mlflow
    image: user/attrition-model:latest
`
	// Every kind, a custom job name, a remote TF Serving over https (seed 002).
	multiYAML = `name: shop
prometheus:
  job_name: exporters
models:
  - name: attrition
    kind: mlflow
    image: user/attrition-model:latest
  - name: diabetes
    kind: tfserving
    model_name: diabetes-prediction
  - name: railway
    kind: remote
    url: https://diabetespredictionmlops-production.up.railway.app
    model_name: diabetes-prediction
    metrics_path: /monitoring/prometheus/metrics
  - name: scorer
    kind: custom
    image: example/scorer:1.0
  - name: far-mlflow
    kind: remote
    url: http://mlflow.example.com:5005
`

	// The demo model with drift on (its embedded baseline: seven numeric
	// features and a class mix, no confidence).
	driftYAML = `name: drift
models:
  - name: demo
    kind: demo
    drift: {window: 30m}
`
)

var fixtures = []struct {
	name, yaml string
}{
	{"demo", demoYAML},
	{"mlflow", mlflowYAML},
	{"multi", multiYAML},
	{"drift", driftYAML},
}

func mustParse(t testing.TB, src string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(src), "stack.yaml")
	if err != nil {
		t.Fatalf("parse fixture: %v", err)
	}
	return s
}

func mustBuild(t testing.TB, s *stack.Stack) map[string][]byte {
	t.Helper()
	files, err := Build(s)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return files
}

// Generic views of the JSON, decoded independently of the Go model so that
// the tests check what Grafana will read.
type jsonDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Tags          []string       `json:"tags"`
	SchemaVersion int            `json:"schemaVersion"`
	Refresh       any            `json:"refresh"`
	Time          map[string]any `json:"time"`
	Timepicker    map[string]any `json:"timepicker"`
	Panels        []jsonPanel    `json:"panels"`
	Raw           map[string]any `json:"-"`
}

type jsonPanel struct {
	ID          *int           `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Datasource  map[string]any `json:"datasource"`
	GridPos     map[string]any `json:"gridPos"`
	Targets     []jsonTarget   `json:"targets"`
	FieldConfig *struct {
		Defaults  map[string]any `json:"defaults"`
		Overrides []any          `json:"overrides"`
	} `json:"fieldConfig"`
	Options map[string]any `json:"options"`
	Panels  []jsonPanel    `json:"panels"`
	Raw     map[string]any `json:"-"`
}

type jsonTarget struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource map[string]any `json:"datasource"`
}

func decode(t testing.TB, file string, data []byte) jsonDashboard {
	t.Helper()
	var d jsonDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(data, &d.Raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var raw struct {
		Panels []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for i := range d.Panels {
		d.Panels[i].Raw = raw.Panels[i]
	}
	return d
}

// allBuilt builds every fixture and returns its decoded dashboards by fixture and file.
func allBuilt(t *testing.T) map[string]map[string]jsonDashboard {
	t.Helper()
	out := map[string]map[string]jsonDashboard{}
	for _, f := range fixtures {
		out[f.name] = map[string]jsonDashboard{}
		for file, data := range mustBuild(t, mustParse(t, f.yaml)) {
			out[f.name][file] = decode(t, file, data)
		}
	}
	return out
}

func exprs(d jsonDashboard) []string {
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	return out
}

func TestBuildFiles(t *testing.T) {
	tests := []struct {
		yaml string
		want []string
	}{
		{demoYAML, []string{"grafana/dashboards/_overview.json", "grafana/dashboards/demo.json"}},
		{multiYAML, []string{
			"grafana/dashboards/_overview.json", "grafana/dashboards/attrition.json", "grafana/dashboards/diabetes.json",
			"grafana/dashboards/far-mlflow.json", "grafana/dashboards/railway.json", "grafana/dashboards/scorer.json",
		}},
	}
	for _, tt := range tests {
		files := mustBuild(t, mustParse(t, tt.yaml))
		var got []string
		for f := range files {
			got = append(got, f)
		}
		sort.Strings(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("files = %v, want %v", got, tt.want)
		}
	}
}

func TestEveryQueryParsesAsPromQL(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			n := 0
			for _, e := range exprs(d) {
				n++
				t.Run(fmt.Sprintf("%s/%s/%d", fx, filepath.Base(file), n), func(t *testing.T) {
					if _, err := p.ParseExpr(e); err != nil {
						t.Errorf("%s\n%v", e, err)
					}
				})
			}
			if n == 0 {
				t.Errorf("%s %s: no queries", fx, file)
			}
		}
	}
}

// seed000Queries are the queries of seed 000's dashboard, verbatim
// (../shared/seeds/README.md).
var seed000Queries = []string{
	`sum(rate(http_requests_total{job="ml_model_exporter"}[1m]))`,
	`histogram_quantile(0.95, sum by(le) (rate(http_request_duration_seconds_bucket{job="ml_model_exporter"}[5m])))`,
	`rate(process_cpu_seconds_total{job="ml_model_exporter"}[5m])`,
	`avg_over_time(process_resident_memory_bytes{job="ml_model_exporter"}[5m]) / (1024 * 1024)`,
	`up{job="ml_model_exporter"}`,
	`avg_over_time(process_open_fds{job="ml_model_exporter"}[5m])`,
	`avg_over_time(process_threads{job="ml_model_exporter"}[5m])`,
}

func TestSeed000QueriesPresent(t *testing.T) {
	tests := []struct {
		fixture string
		job     string
		models  []string
	}{
		{"mlflow", "ml_model_exporter", []string{"attrition"}},
		{"demo", "ml_model_exporter", []string{"demo"}},
		{"multi", "exporters", []string{"attrition", "diabetes", "railway", "scorer", "far-mlflow"}},
	}
	built := allBuilt(t)
	for _, tt := range tests {
		files := built[tt.fixture]
		overview := exprs(files[OverviewFile])
		for _, seed := range seed000Queries {
			// The overview carries the seed query as written, with the stack's job name.
			want := strings.ReplaceAll(seed, `job="ml_model_exporter"`, fmt.Sprintf("job=%q", tt.job))
			if !slices.Contains(overview, want) {
				t.Errorf("%s overview: missing %s", tt.fixture, want)
			}
			// A model's dashboard adds the model matcher.
			for _, m := range tt.models {
				want := strings.ReplaceAll(seed, `{job="ml_model_exporter"}`, fmt.Sprintf(`{job=%q, model=%q}`, tt.job, m))
				file := "grafana/dashboards/" + m + ".json"
				if !slices.Contains(exprs(files[file]), want) {
					t.Errorf("%s %s: missing %s", tt.fixture, file, want)
				}
			}
		}
	}
}

// The brief's example, spelled out.
func TestSeed000ExampleQuery(t *testing.T) {
	d := decode(t, "demo", mustBuild(t, mustParse(t, demoYAML))["grafana/dashboards/demo.json"])
	want := `sum(rate(http_requests_total{job="ml_model_exporter", model="demo"}[1m]))`
	if !slices.Contains(exprs(d), want) {
		t.Errorf("missing %s", want)
	}
}

func TestExporterExtrasPresent(t *testing.T) {
	d := decode(t, "multi", mustBuild(t, mustParse(t, multiYAML))["grafana/dashboards/scorer.json"])
	sel := `{job="exporters", model="scorer"}`
	for _, want := range []string{
		`(sum (rate(http_requests_total{job="exporters", model="scorer", code=~"5.."}[5m])) or sum (rate(http_requests_total` + sel + `[5m])) * 0) / sum (rate(http_requests_total` + sel + `[5m]))`,
		`(sum (rate(http_requests_total{job="exporters", model="scorer", code=~"4.."}[5m])) or sum (rate(http_requests_total` + sel + `[5m])) * 0) / sum (rate(http_requests_total` + sel + `[5m]))`,
		`sum(http_requests_in_flight` + sel + `)`,
		`sum by (cause) (rate(upstream_failures_total` + sel + `[5m]))`,
		`sum by (class) (rate(model_predictions_total` + sel + `[5m]))`,
	} {
		if !slices.Contains(exprs(d), want) {
			t.Errorf("missing %s", want)
		}
	}
}

func panelByTitle(t *testing.T, d jsonDashboard, title string) jsonPanel {
	t.Helper()
	for _, p := range d.Panels {
		if p.Title == title {
			return p
		}
	}
	t.Fatalf("%s: no panel %q", d.Title, title)
	return jsonPanel{}
}

func panelExprs(p jsonPanel) []string {
	var out []string
	for _, q := range p.Targets {
		out = append(out, q.Expr)
	}
	return out
}

// thresholdSteps returns a panel's threshold steps after the base as value: color.
func thresholdSteps(p jsonPanel) map[float64]string {
	out := map[float64]string{}
	th, _ := p.FieldConfig.Defaults["thresholds"].(map[string]any)
	steps, _ := th["steps"].([]any)
	for _, st := range steps {
		st := st.(map[string]any)
		if v, ok := st["value"].(float64); ok {
			out[v] = st["color"].(string)
		}
	}
	return out
}

// routeMatcher finds a route label matcher. The exporter does not count its
// own monitoring endpoints, so the dashboards need no route filter.
var routeMatcher = regexp.MustCompile(`\broute\s*(=|!=|=~|!~)\s*"`)

// The main error-ratio panels count failures as the high_error_ratio alert
// does (every code but 2xx/3xx), and keep 5xx and 4xx apart for diagnosis.
func TestErrorRatioMatchesAlert(t *testing.T) {
	s := mustParse(t, multiYAML)
	var alert stack.Alert
	for _, a := range s.EffectiveAlerts() {
		if a.Name == "high_error_ratio" {
			alert = a
		}
	}
	if alert.Kind != stack.AlertErrorRatioHigh {
		t.Fatalf("default alert high_error_ratio has kind %q", alert.Kind)
	}
	q, err := alerting.ValueQuery(s, alert, s.Models[3])
	if err != nil {
		t.Fatal(err)
	}
	const failed = `code!~"2..|3.."`
	if !strings.Contains(q.Value, failed) {
		t.Fatalf("alert query %s no longer matches %s: update the dashboards' error ratio", q.Value, failed)
	}
	files := mustBuild(t, s)
	sel := `{job="exporters", model="scorer"}`
	all := `sum (rate(http_requests_total` + sel + `[5m]))`
	wantAll := `(sum (rate(http_requests_total{job="exporters", model="scorer", ` + failed + `}[5m])) or ` + all + ` * 0) / ` + all
	d := decode(t, "scorer", files["grafana/dashboards/scorer.json"])
	stat := panelByTitle(t, d, "Error ratio (4xx + 5xx)")
	if stat.Type != "stat" {
		// The stat comes first; the timeseries of the same title follows.
		t.Fatalf("first %q panel is a %s", stat.Title, stat.Type)
	}
	if got := panelExprs(stat); !slices.Equal(got, []string{wantAll}) {
		t.Errorf("stat queries = %q, want %q", got, wantAll)
	}
	var ts *jsonPanel
	for i, p := range d.Panels {
		if p.Title == stat.Title && p.Type == "timeseries" {
			ts = &d.Panels[i]
		}
	}
	if ts == nil {
		t.Fatal("no error ratio timeseries")
	}
	got := panelExprs(*ts)
	if len(got) != 3 || got[0] != wantAll || !strings.Contains(got[1], `code=~"5.."`) || !strings.Contains(got[2], `code=~"4.."`) {
		t.Errorf("timeseries queries = %q, want 4xx + 5xx, then 5xx and 4xx", got)
	}
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			for _, p := range d.Panels {
				if strings.HasPrefix(p.Title, "5xx error ratio") && p.Type == "stat" {
					t.Errorf("%s %s: stat %q shows only 5xx", fx, file, p.Title)
				}
				for _, e := range panelExprs(p) {
					if routeMatcher.MatchString(e) {
						t.Errorf("%s %s: panel %q filters routes: %s", fx, file, p.Title, e)
					}
				}
			}
		}
		ov := files[OverviewFile]
		byModel := panelExprs(panelByTitle(t, ov, "Error ratio (4xx + 5xx) by model"))
		if len(byModel) != 1 || !strings.Contains(byModel[0], failed) || !strings.Contains(byModel[0], "sum by (model)") {
			t.Errorf("%s overview: error ratio by model = %q", fx, byModel)
		}
		for _, title := range []string{"5xx error ratio by model", "4xx error ratio by model"} {
			panelByTitle(t, ov, title)
		}
		if e := panelExprs(panelByTitle(t, ov, "Error ratio (4xx + 5xx) (all models)")); len(e) != 1 || !strings.Contains(e[0], failed) {
			t.Errorf("%s overview: error ratio stat = %q", fx, e)
		}
	}
}

// Stat thresholds turn red where the alerts fire: the defaults (0.05 error
// ratio, 0.5 s p95, 0.8 cores), stack.yaml's overrides, and the former
// constants when the alerts are off.
func TestThresholdsFollowAlerts(t *testing.T) {
	tests := []struct {
		name, yaml     string
		errs, p95, cpu map[float64]string
		overviewErrs   map[float64]string
	}{
		{"defaults", demoYAML,
			map[float64]string{0.01: "yellow", 0.05: "red"},
			map[float64]string{0.25: "yellow", 0.5: "red"},
			map[float64]string{0.6: "yellow", 0.8: "red"},
			map[float64]string{0.01: "yellow", 0.05: "red"}},
		{"overridden", demoYAML + `alerts:
  - name: high_error_ratio
    threshold: 0.1
  - name: high_latency_p95
    threshold: 2
  - name: high_cpu
    threshold: 1.5
`,
			map[float64]string{0.02: "yellow", 0.1: "red"},
			map[float64]string{1: "yellow", 2: "red"},
			map[float64]string{1.125: "yellow", 1.5: "red"},
			map[float64]string{0.02: "yellow", 0.1: "red"}},
		{"one model only", demoYAML + `alerts:
  - name: high_error_ratio
    model: demo
    threshold: 0.2
`,
			map[float64]string{0.04: "yellow", 0.2: "red"},
			map[float64]string{0.25: "yellow", 0.5: "red"},
			map[float64]string{0.6: "yellow", 0.8: "red"},
			// The overview follows only alerts on every model.
			map[float64]string{0.01: "yellow", 0.05: "red"}},
		{"defaults off", demoYAML + "alerting: {defaults: false}\n",
			map[float64]string{0.01: "yellow", 0.05: "red"},
			map[float64]string{0.5: "yellow", 1: "red"},
			map[float64]string{0.7: "yellow", 0.9: "red"},
			map[float64]string{0.01: "yellow", 0.05: "red"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := mustBuild(t, mustParse(t, tt.yaml))
			d := decode(t, "demo", files["grafana/dashboards/demo.json"])
			ov := decode(t, "overview", files[OverviewFile])
			for _, c := range []struct {
				d     jsonDashboard
				title string
				want  map[float64]string
			}{
				{d, "Error ratio (4xx + 5xx)", tt.errs},
				{d, "P95 latency", tt.p95},
				{d, "CPU (cores)", tt.cpu},
				{ov, "Error ratio (4xx + 5xx) (all models)", tt.overviewErrs},
				{ov, "P95 latency (all models)", tt.p95},
				{ov, "CPU (cores)", tt.cpu},
			} {
				if got := thresholdSteps(panelByTitle(t, c.d, c.title)); fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("%s %q thresholds = %v, want %v", c.d.Title, c.title, got, c.want)
				}
			}
		})
	}
}

// CPU is in cores (short, axis labelled), RAM in MiB (the query divides by
// 1024 * 1024, Grafana's "mbytes").
func TestCPUAndRAMUnits(t *testing.T) {
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			for _, p := range d.Panels {
				switch {
				case slices.ContainsFunc(panelExprs(p), func(e string) bool { return strings.Contains(e, "process_cpu_seconds_total") }):
					custom, _ := p.FieldConfig.Defaults["custom"].(map[string]any)
					if p.Title != "CPU (cores)" || p.FieldConfig.Defaults["unit"] != "short" || custom["axisLabel"] != "cores" {
						t.Errorf("%s %s: CPU panel %q unit %v axisLabel %v", fx, file, p.Title, p.FieldConfig.Defaults["unit"], custom["axisLabel"])
					}
				case slices.ContainsFunc(panelExprs(p), func(e string) bool { return strings.Contains(e, "/ (1024 * 1024)") }):
					if p.Title != "RAM (MiB)" || p.FieldConfig.Defaults["unit"] != "mbytes" {
						t.Errorf("%s %s: RAM panel %q unit %v", fx, file, p.Title, p.FieldConfig.Defaults["unit"])
					}
				}
			}
		}
	}
}

// seed002Queries are seed 002's panel queries (model diabetes-prediction)
// that stackgen keeps as they are apart from the added job and model
// matchers; tfExtra maps the changed ones to what stackgen writes.
var seed002Queries = []string{
	`sum(:tensorflow:serving:request_count{model_name="diabetes-prediction"})`,
	`sum by (status) (:tensorflow:serving:request_count{model_name="diabetes-prediction"})`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[1m])`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m])`,
	`rate(:tensorflow:serving:request_count{model_name="diabetes-prediction", status!="OK"}[5m])`,
	`(:tensorflow:serving:request_latency_sum{model_name="diabetes-prediction", API="predict", entrypoint="REST"}
	  / :tensorflow:serving:request_latency_count{model_name="diabetes-prediction", API="predict", entrypoint="REST"}) / 1000`,
	// p95/p99 in ms: the seed's quantile of the µs buckets, divided by 1000.
	`histogram_quantile(0.95, sum by (le) (rate(:tensorflow:serving:request_latency_bucket{model_name="diabetes-prediction", API="predict", entrypoint="REST"}[5m]))) / 1000`,
	`histogram_quantile(0.99, sum by (le) (rate(:tensorflow:serving:request_latency_bucket{model_name="diabetes-prediction", API="predict", entrypoint="REST"}[5m]))) / 1000`,
	// Error ratio: summed on both sides (the seed's series-by-series
	// division matches each error series with itself).
	`(sum(rate(:tensorflow:serving:request_count{model_name="diabetes-prediction", status!="OK"}[5m]))
	  or sum(rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m])) * 0)
	 / sum(rate(:tensorflow:serving:request_count{model_name="diabetes-prediction"}[5m]))`,
}

// normalize parses e, optionally adds matchers to every selector, sorts each
// selector's matchers and prints the expression canonically.
func normalize(t *testing.T, e string, add ...*labels.Matcher) string {
	t.Helper()
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(e)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, add...)
			sort.Slice(vs.LabelMatchers, func(i, j int) bool {
				return vs.LabelMatchers[i].String() < vs.LabelMatchers[j].String()
			})
		}
		return nil
	})
	return expr.String()
}

func TestTFServingPanels(t *testing.T) {
	tests := []struct {
		fixture, model, modelName string
		tf                        bool
	}{
		{"demo", "demo", "demo", true},
		{"mlflow", "attrition", "", false},
		{"multi", "attrition", "", false},
		{"multi", "diabetes", "diabetes-prediction", true},
		{"multi", "railway", "diabetes-prediction", true},
		{"multi", "scorer", "", false},
		{"multi", "far-mlflow", "", false},
	}
	built := allBuilt(t)
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.model, func(t *testing.T) {
			d := built[tt.fixture]["grafana/dashboards/"+tt.model+".json"]
			got := map[string]bool{}
			hasTF := false
			for _, e := range exprs(d) {
				got[normalize(t, e)] = true
				hasTF = hasTF || strings.Contains(e, ":tensorflow:serving:")
			}
			if hasTF != tt.tf {
				t.Fatalf("TF Serving queries present = %v, want %v", hasTF, tt.tf)
			}
			hasRow := slices.ContainsFunc(d.Panels, func(p jsonPanel) bool {
				return p.Type == "row" && strings.HasPrefix(p.Title, "TF Serving")
			})
			if hasRow != tt.tf {
				t.Errorf("TF Serving row present = %v, want %v", hasRow, tt.tf)
			}
			if !tt.tf {
				return
			}
			add := []*labels.Matcher{
				labels.MustNewMatcher(labels.MatchEqual, "job", prometheus.ModelServerJob),
				labels.MustNewMatcher(labels.MatchEqual, prometheus.ModelLabel, tt.model),
			}
			for _, seed := range seed002Queries {
				seed = strings.ReplaceAll(seed, "diabetes-prediction", tt.modelName)
				if want := normalize(t, seed, add...); !got[want] {
					t.Errorf("missing %s", want)
				}
			}
		})
	}
}

// A model named "overview" must not clash with the overview dashboard's
// file, uid or title (Grafana refuses two dashboards with one title in a folder).
func TestModelNamedOverview(t *testing.T) {
	files := mustBuild(t, mustParse(t, "name: shop\nmodels: [{name: overview, kind: demo}]\n"))
	if len(files) != 2 {
		t.Fatalf("got %d files, want 2", len(files))
	}
	uids, titles := map[string]bool{}, map[string]bool{}
	for file, data := range files {
		d := decode(t, file, data)
		if uids[d.UID] || titles[d.Title] {
			t.Errorf("%s: uid %q or title %q used twice", file, d.UID, d.Title)
		}
		uids[d.UID], titles[d.Title] = true, true
	}
}

func TestTFServingNeedsModelName(t *testing.T) {
	s := mustParse(t, multiYAML)
	s.Models[1].ModelName = "" // validation would refuse this stack
	_, err := Build(s)
	if err == nil || !strings.Contains(err.Error(), `model "diabetes"`) || !strings.Contains(err.Error(), "model_name") {
		t.Fatalf("err = %v, want a model_name error naming the model", err)
	}
}

func TestBuildErrors(t *testing.T) {
	dup := mustParse(t, demoYAML)
	dup.Models = append(dup.Models, dup.Models[0])
	tests := []struct {
		name string
		s    *stack.Stack
		want string
	}{
		{"nil", nil, "nil stack"},
		{"no models", &stack.Stack{Name: "x"}, "no models"},
		{"duplicate model", dup, "share uid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Build(tt.s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

var allowedUnits = []string{"reqps", "s", "ms", "percentunit", "mbytes", "short"}

func TestFieldConfigUnitsAndThresholds(t *testing.T) {
	fractional := 0
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			for _, p := range d.Panels {
				if p.Type == "row" {
					continue
				}
				name := fmt.Sprintf("%s %s panel %q", fx, filepath.Base(file), p.Title)
				if p.Type != "timeseries" && p.Type != "stat" && p.Type != "barchart" {
					t.Errorf("%s: type %q", name, p.Type)
				}
				if p.FieldConfig == nil || p.FieldConfig.Defaults == nil || p.FieldConfig.Overrides == nil {
					t.Fatalf("%s: fieldConfig.defaults and overrides required", name)
				}
				def := p.FieldConfig.Defaults
				if u, _ := def["unit"].(string); !slices.Contains(allowedUnits, u) {
					t.Errorf("%s: unit %q", name, u)
				}
				if _, ok := def["color"].(map[string]any)["mode"].(string); !ok {
					t.Errorf("%s: color.mode missing", name)
				}
				th, _ := def["thresholds"].(map[string]any)
				if th["mode"] != "absolute" {
					t.Errorf("%s: thresholds.mode = %v", name, th["mode"])
				}
				steps, _ := th["steps"].([]any)
				if len(steps) == 0 {
					t.Fatalf("%s: no threshold steps", name)
				}
				prev := math.Inf(-1)
				for i, st := range steps {
					st := st.(map[string]any)
					if _, ok := st["color"].(string); !ok {
						t.Errorf("%s: step %d has no color", name, i)
					}
					v, present := st["value"]
					if i == 0 {
						if !present || v != nil {
							t.Errorf("%s: first step value = %v, want null", name, v)
						}
						continue
					}
					f, ok := v.(float64)
					if !ok || f <= prev {
						t.Errorf("%s: step %d value %v not an ascending number", name, i, v)
					}
					if f != math.Trunc(f) {
						fractional++
					}
					prev = f
				}
				if p.Type == "stat" {
					calcs, _ := p.Options["reduceOptions"].(map[string]any)["calcs"].([]any)
					if len(calcs) == 0 {
						t.Errorf("%s: stat without reduceOptions.calcs", name)
					}
				} else if _, ok := p.Options["legend"].(map[string]any); !ok {
					t.Errorf("%s: %s without options.legend", name, p.Type)
				}
			}
		}
	}
	if fractional == 0 {
		t.Error("no fractional threshold value anywhere: thresholds are not floats")
	}
}

func TestPanelUnits(t *testing.T) {
	files := mustBuild(t, mustParse(t, demoYAML))
	d := decode(t, "demo", files["grafana/dashboards/demo.json"])
	want := map[string]string{
		"Requests/s (RPS)":        "reqps",
		"Latency (P95)":           "s",
		"Error ratio (4xx + 5xx)": "percentunit",
		"CPU (cores)":             "short",
		"RAM (MiB)":               "mbytes",
		"Open file descriptors":   "short",
		"Threads":                 "short",
		"Latency (P95 / P99)":     "ms",
		"Average latency":         "ms",
	}
	for _, p := range d.Panels {
		if u, ok := want[p.Title]; ok {
			if got := p.FieldConfig.Defaults["unit"]; got != u {
				t.Errorf("panel %q unit = %v, want %s", p.Title, got, u)
			}
			delete(want, p.Title)
		}
	}
	for title := range want {
		t.Errorf("panel %q missing", title)
	}
	// The seed's "RAM MB" divides by 1024*1024, so the unit is MiB (Grafana's
	// "mbytes"; "decmbytes" is 10^6 bytes), and the latency stat turns red at
	// the default alert's 0.5 s.
	raw := string(files["grafana/dashboards/demo.json"])
	for _, s := range []string{`"unit": "mbytes"`, `"value": 0.5`, `"value": 0.01`, `"value": null`} {
		if !strings.Contains(raw, s) {
			t.Errorf("JSON lacks %s", s)
		}
	}
}

func TestDatasourceOnEveryPanelAndTarget(t *testing.T) {
	want := map[string]any{"type": "prometheus", "uid": stack.GrafanaDatasourceUID}
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			for _, p := range d.Panels {
				name := fmt.Sprintf("%s %s panel %q", fx, filepath.Base(file), p.Title)
				if fmt.Sprint(p.Datasource) != fmt.Sprint(want) {
					t.Errorf("%s: datasource %v", name, p.Datasource)
				}
				for _, q := range p.Targets {
					if fmt.Sprint(q.Datasource) != fmt.Sprint(want) {
						t.Errorf("%s target %s: datasource %v", name, q.RefID, q.Datasource)
					}
				}
				if p.Type != "row" && len(p.Targets) == 0 {
					t.Errorf("%s: no targets", name)
				}
			}
		}
	}
}

func TestPanelIDsAndRefIDsUnique(t *testing.T) {
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			seen := map[int]string{}
			for _, p := range d.Panels {
				if p.ID == nil || *p.ID <= 0 {
					t.Errorf("%s %s: panel %q has no positive id", fx, file, p.Title)
					continue
				}
				if prev, ok := seen[*p.ID]; ok {
					t.Errorf("%s %s: id %d on %q and %q", fx, file, *p.ID, prev, p.Title)
				}
				seen[*p.ID] = p.Title
				refs := map[string]bool{}
				for _, q := range p.Targets {
					if q.RefID == "" || refs[q.RefID] {
						t.Errorf("%s %s: panel %q: refId %q empty or repeated", fx, file, p.Title, q.RefID)
					}
					refs[q.RefID] = true
				}
			}
		}
	}
}

func TestGridPosNoOverlap(t *testing.T) {
	type rect struct{ x, y, w, h int }
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			var placed []rect
			var titles []string
			for _, p := range d.Panels {
				g := p.GridPos
				var r rect
				for k, dst := range map[string]*int{"x": &r.x, "y": &r.y, "w": &r.w, "h": &r.h} {
					v, ok := g[k].(float64)
					if !ok {
						t.Fatalf("%s %s: panel %q gridPos.%s missing", fx, file, p.Title, k)
					}
					*dst = int(v)
				}
				if r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x+r.w > gridWidth {
					t.Errorf("%s %s: panel %q gridPos %+v out of the grid", fx, file, p.Title, r)
				}
				for i, o := range placed {
					if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
						t.Errorf("%s %s: %q %+v overlaps %q %+v", fx, file, p.Title, r, titles[i], o)
					}
				}
				placed = append(placed, r)
				titles = append(titles, p.Title)
			}
		}
	}
}

var uidPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

func TestUIDs(t *testing.T) {
	long := strings.Repeat("a", 45)
	tests := []struct {
		stack, model string
		want         string // "" when hashed
	}{
		{"demo", "demo", "demo-demo"},
		{"shop", "attrition", "shop-attrition"},
		{"shop", "overview", "shop-overview"},
		{"my_stack", "m-1", "my_stack-m-1"},
		{long, "m", ""},
		{"s", long, ""},
		{"s", long + "b", ""},
		{long[:30], "model-name-ten", ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		s := &stack.Stack{Name: tt.stack}
		m := stack.Model{Name: tt.model}
		got := ModelUID(s, m)
		if !uidPattern.MatchString(got) {
			t.Errorf("ModelUID(%s, %s) = %q: not a valid Grafana uid", tt.stack, tt.model, got)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("ModelUID(%s, %s) = %q, want %q", tt.stack, tt.model, got, tt.want)
		}
		if got != ModelUID(s, m) {
			t.Errorf("ModelUID(%s, %s) is not stable", tt.stack, tt.model)
		}
		key := tt.stack + "/" + tt.model
		if prev, ok := seen[got]; ok {
			t.Errorf("uid %q shared by %s and %s", got, prev, key)
		}
		seen[got] = key
		ov := OverviewUID(s)
		if !uidPattern.MatchString(ov) {
			t.Errorf("OverviewUID(%s) = %q: not a valid Grafana uid", tt.stack, ov)
		}
		if ov == got {
			t.Errorf("overview and model %s share uid %q", key, ov)
		}
	}
	if got := OverviewUID(&stack.Stack{Name: "shop"}); got != "shop--overview" {
		t.Errorf("OverviewUID(shop) = %q", got)
	}
	// The dashboards carry these uids.
	for fx, files := range allBuilt(t) {
		uids := map[string]string{}
		for file, d := range files {
			if !uidPattern.MatchString(d.UID) {
				t.Errorf("%s %s: uid %q", fx, file, d.UID)
			}
			if prev, ok := uids[d.UID]; ok {
				t.Errorf("%s: uid %q in %s and %s", fx, d.UID, prev, file)
			}
			uids[d.UID] = file
		}
	}
}

func TestDashboardSettings(t *testing.T) {
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			name := fx + " " + file
			if d.SchemaVersion != SchemaVersion || SchemaVersion < 36 {
				t.Errorf("%s: schemaVersion %d", name, d.SchemaVersion)
			}
			if d.Refresh != "10s" {
				t.Errorf("%s: refresh %v", name, d.Refresh)
			}
			if d.Time["from"] != "now-1h" || d.Time["to"] != "now" {
				t.Errorf("%s: time %v", name, d.Time)
			}
			if !slices.Contains(d.Tags, "stackgen") || d.Title == "" {
				t.Errorf("%s: title %q tags %v", name, d.Title, d.Tags)
			}
			// Provisioned read-only (allowUiUpdates false): not editable in the UI.
			if e, ok := d.Raw["editable"]; !ok || e != false {
				t.Errorf("%s: editable = %v, want false", name, e)
			}
			// Legacy sdk fields must not leak (ids are Grafana's to assign;
			// "style" is obsolete since Grafana 7).
			for _, k := range []string{"id", "rows", "slug", "originalTitle", "hideControls", "sharedCrosshair", "style"} {
				if _, ok := d.Raw[k]; ok {
					t.Errorf("%s: legacy field %q present", name, k)
				}
			}
			if _, ok := d.Timepicker["time_options"]; ok {
				t.Errorf("%s: timepicker.time_options present", name)
			}
			for _, p := range d.Panels {
				for _, k := range []string{"span", "isNew", "error", "editable"} {
					if _, ok := p.Raw[k]; ok {
						t.Errorf("%s: panel %q has legacy field %q", name, p.Title, k)
					}
				}
				if p.Type == "row" {
					if p.Raw["collapsed"] != false || p.Panels == nil {
						t.Errorf("%s: row %q needs collapsed false and panels []", name, p.Title)
					}
				}
			}
		}
	}
}

func TestMetricNamesMatchExporterAndModelServer(t *testing.T) {
	known := []string{
		"up", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
		exporter.MetricRequests, exporter.MetricInFlight, exporter.MetricUpstreamFailures,
		exporter.MetricPredictions, exporter.MetricProcessThreads, modelserver.RequestCountMetric,
	}
	known = append(known, driftMetrics...)
	for _, h := range []string{exporter.MetricRequestDuration, exporter.MetricUpstreamDuration, exporter.MetricRequestRows, modelserver.RequestLatencyMetric} {
		known = append(known, h+"_bucket", h+"_sum", h+"_count")
	}
	p := parser.NewParser(parser.Options{})
	for fx, files := range allBuilt(t) {
		for file, d := range files {
			for _, e := range exprs(d) {
				expr, err := p.ParseExpr(e)
				if err != nil {
					t.Fatalf("%s: %v", e, err)
				}
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok && !slices.Contains(known, vs.Name) {
						t.Errorf("%s %s: unknown metric %q in %s", fx, file, vs.Name, e)
					}
					return nil
				})
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range fixtures {
		a := mustBuild(t, mustParse(t, f.yaml))
		b := mustBuild(t, mustParse(t, f.yaml))
		if len(a) != len(b) {
			t.Fatalf("%s: %d files, then %d", f.name, len(a), len(b))
		}
		for file, data := range a {
			if !bytes.Equal(data, b[file]) {
				t.Errorf("%s %s: bytes differ between two builds", f.name, file)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			files := mustBuild(t, mustParse(t, f.yaml))
			dir := filepath.Join("testdata", f.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for file, data := range files {
					p := filepath.Join(dir, filepath.FromSlash(file))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			var onDisk []string
			err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				rel, err := filepath.Rel(dir, p)
				onDisk = append(onDisk, filepath.ToSlash(rel))
				return err
			})
			if err != nil {
				t.Fatalf("read golden files (run go test ./dashboards -run TestGolden -update): %v", err)
			}
			for _, rel := range onDisk {
				if _, ok := files[rel]; !ok {
					t.Errorf("golden %s is no longer rendered", rel)
				}
			}
			for file, data := range files {
				want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
				if err != nil {
					t.Errorf("%v (run go test ./dashboards -run TestGolden -update)", err)
					continue
				}
				if !bytes.Equal(data, want) {
					t.Errorf("%s differs from the golden file (run go test ./dashboards -run TestGolden -update and review the diff)", file)
				}
			}
		})
	}
}

func BenchmarkBuild50Models(b *testing.B) {
	var src strings.Builder
	src.WriteString("name: big\nexporter: {port: 18000}\nmodels:\n")
	for i := range 50 {
		kind := "demo"
		if i%2 == 1 {
			kind = "mlflow\n    image: example/m:1"
		}
		fmt.Fprintf(&src, "  - name: m%d\n    kind: %s\n", i, kind)
	}
	s := mustParse(b, src.String())
	b.ResetTimer()
	for range b.N {
		if _, err := Build(s); err != nil {
			b.Fatal(err)
		}
	}
}
