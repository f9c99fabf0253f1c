package dashboards

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/grafana"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/stack"
)

// driftMetrics are the drift series the dashboards may read: the exporter's
// and the recording rules'.
var driftMetrics = []string{
	stack.MetricFeatureBin, stack.MetricFeatureMissing, stack.MetricFeatureOutOfRange,
	stack.MetricFeatureBaselineRatio, stack.MetricPredictionBaselineRatio, stack.MetricPredictionConfidenceBaseline,
	stack.RecFeatureBinShare, stack.RecFeaturePSI, stack.RecFeaturePSIThreshold,
	stack.RecPredictionClassShare, stack.RecPredictionPSI, stack.RecPredictionPSIThreshold,
	stack.RecPredictionConfidenceMean,
}

// rowPanels returns the panels under the row titled row.
func rowPanels(d jsonDashboard, row string) []jsonPanel {
	var out []jsonPanel
	in := false
	for _, p := range d.Panels {
		if p.Type == "row" {
			in = p.Title == row
			continue
		}
		if in {
			out = append(out, p)
		}
	}
	return out
}

// confidenceBaseline writes the demo baseline with a confidence mean added
// and returns its path.
func confidenceBaseline(t *testing.T) string {
	t.Helper()
	b, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	b.Prediction.Confidence = &baseline.Confidence{Mean: 0.81, Rows: b.Rows}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "baseline.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDriftRow(t *testing.T) {
	demo, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	all := make([]string, len(demo.Features))
	for i, f := range demo.Features {
		all[i] = f.Name
	}
	conf := confidenceBaseline(t)
	tests := []struct {
		name       string
		yaml       string
		features   []string // features with a share bar chart; nil: no drift row
		confidence bool
	}{
		{name: "no drift (negative control)", yaml: demoYAML},
		{name: "demo baseline", yaml: driftYAML, features: all},
		{name: "feature subset", yaml: "name: d\nmodels:\n  - {name: demo, kind: demo, drift: {features: [age, overtime]}}\n",
			features: []string{"age", "overtime"}},
		{name: "baseline with confidence", yaml: fmt.Sprintf("name: d\nmodels:\n  - {name: demo, kind: demo, drift: {baseline: %q}}\n", conf),
			features: all, confidence: true},
	}
	p := parser.NewParser(parser.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.yaml)
			m := s.Models[0]
			files := mustBuild(t, s)
			d := decode(t, ModelFile(m), files[ModelFile(m)])
			panels := rowPanels(d, DriftRowTitle)
			if tt.features == nil {
				if len(panels) > 0 {
					t.Fatalf("a model without drift has a %q row", DriftRowTitle)
				}
				for _, e := range exprs(d) {
					for _, n := range driftMetrics {
						if strings.Contains(e, n) {
							t.Errorf("query %s reads drift series %s", e, n)
						}
					}
				}
				return
			}
			var bars []string
			for _, pn := range panels {
				for _, q := range pn.Targets {
					if _, err := p.ParseExpr(q.Expr); err != nil {
						t.Errorf("%s: %s: %v", pn.Title, q.Expr, err)
					}
					if !strings.Contains(q.Expr, `model="demo"`) {
						t.Errorf("%s: %s does not select the model", pn.Title, q.Expr)
					}
				}
				if pn.Type == "barchart" {
					bars = append(bars, pn.Title)
					checkBarchart(t, pn)
				}
			}
			var want []string
			for _, f := range tt.features {
				want = append(want, ShareTitle(f))
			}
			want = append(want, PredictionShareTitle)
			if !slices.Equal(bars, want) {
				t.Errorf("bar charts %q, want %q", bars, want)
			}
			psi := panelByTitle(t, d, "Feature drift (PSI)")
			if got := panelExprs(psi); len(got) != 2 || !strings.HasPrefix(got[0], stack.RecFeaturePSI+"{") || !strings.HasPrefix(got[1], stack.RecFeaturePSIThreshold+"{") {
				t.Errorf("PSI panel queries %q: want PSI and its threshold", got)
			}
			hasConf := false
			for _, pn := range panels {
				hasConf = hasConf || pn.Title == "Mean confidence vs baseline"
			}
			// Drift alert emails link ?viewPanel=<stack.DriftPanelID(kind)>:
			// that id must be this dashboard's panel of the alert, and unique.
			links := map[string]string{stack.AlertFeatureDrift: "Feature drift (PSI)", stack.AlertPredictionDrift: "Prediction drift (PSI)"}
			if tt.confidence {
				links[stack.AlertConfidenceDrop] = "Mean confidence vs baseline"
			}
			ids := map[int]string{}
			for _, pn := range d.Panels {
				if pn.ID == nil {
					t.Fatalf("panel %q has no id", pn.Title)
				}
				if prev, dup := ids[*pn.ID]; dup {
					t.Errorf("panels %q and %q share id %d", prev, pn.Title, *pn.ID)
				}
				ids[*pn.ID] = pn.Title
			}
			for kind, title := range links {
				if got := ids[stack.DriftPanelID(kind)]; got != title {
					t.Errorf("%s links panel id %d, which is %q, want %q", kind, stack.DriftPanelID(kind), got, title)
				}
			}
			if hasConf != tt.confidence {
				t.Errorf("confidence panel present = %v, want %v", hasConf, tt.confidence)
			}
		})
	}
}

// checkBarchart checks the shape the report and Grafana read: instant table
// queries A (actual) and B (baseline) aggregated by the xField label, a
// merge transformation, percent unit, and the value columns shown by legend.
func checkBarchart(t *testing.T, p jsonPanel) {
	t.Helper()
	x, _ := p.Options["xField"].(string)
	if x != stack.LabelBin && x != stack.LabelClass {
		t.Errorf("%s: options.xField %q", p.Title, x)
	}
	if len(p.Targets) != 2 {
		t.Fatalf("%s: %d queries, want 2", p.Title, len(p.Targets))
	}
	targets := p.Raw["targets"].([]any)
	for i, legend := range []string{legendActual, legendBaseline} {
		q := targets[i].(map[string]any)
		if q["instant"] != true || q["range"] != false || q["format"] != "table" || q["legendFormat"] != legend {
			t.Errorf("%s: query %d = %v, want an instant table query with legend %q", p.Title, i, q, legend)
		}
		if e := q["expr"].(string); !strings.Contains(e, "by ("+x+")") {
			t.Errorf("%s: %s is not aggregated by %s (the merge joins on it)", p.Title, e, x)
		}
	}
	tr, _ := p.Raw["transformations"].([]any)
	if len(tr) != 1 || tr[0].(map[string]any)["id"] != "merge" {
		t.Errorf("%s: transformations %v, want one merge", p.Title, tr)
	}
	if u := p.FieldConfig.Defaults["unit"]; u != "percentunit" {
		t.Errorf("%s: unit %v", p.Title, u)
	}
	names := map[string]any{}
	for _, o := range p.FieldConfig.Overrides {
		om := o.(map[string]any)
		mt := om["matcher"].(map[string]any)
		for _, pr := range om["properties"].([]any) {
			if pm := pr.(map[string]any); pm["id"] == "displayName" {
				names[mt["options"].(string)] = pm["value"]
			}
		}
	}
	if names["Value #A"] != legendActual || names["Value #B"] != legendBaseline {
		t.Errorf("%s: display names %v, want Value #A actual, Value #B baseline", p.Title, names)
	}
}

// TestGrafanaStructure: every dashboard of every fixture passes the
// structural check that mirrors Grafana's panel schemas.
func TestGrafanaStructure(t *testing.T) {
	for _, f := range fixtures {
		for file, data := range mustBuild(t, mustParse(t, f.yaml)) {
			if err := grafana.CheckDashboard(f.name+"/"+file, data); err != nil {
				t.Errorf("%v", err)
			}
		}
	}
}
