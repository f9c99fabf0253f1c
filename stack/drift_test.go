package stack

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stackgen/stackgen/model"
)

// loadIn writes src as stack.yaml into a fresh folder with files beside it
// and loads it.
func loadIn(t *testing.T, src string, files map[string]string) (*Stack, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func demoBaseline(t *testing.T) string {
	t.Helper()
	return string(model.DefaultBaselineJSON())
}

func TestDriftValid(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		files    map[string]string
		features []string
		drift    Drift // settings only
		alerts   map[string][]string
	}{
		{
			name:     "demo drift: {} takes the demo baseline and the defaults",
			src:      head + "    drift: {}\n",
			features: []string{"age", "monthly_income", "years_at_company", "job_satisfaction", "overtime", "distance_from_home", "num_companies_worked"},
			drift:    Drift{Window: Duration(time.Hour), Threshold: 0.2, MinSamples: 200, Confidence: 0.999},
			alerts:   map[string][]string{"feature_drift": {"demo"}, "prediction_drift": {"demo"}, "confidence_drop": nil},
		},
		{
			name:     "a subset, in the baseline's order, and settings",
			src:      head + "    drift: {features: [overtime, age], window: 30m, threshold: 0.1, min_samples: 50, confidence: 0.99}\n",
			features: []string{"age", "overtime"},
			drift:    Drift{Features: []string{"overtime", "age"}, Window: Duration(30 * time.Minute), Threshold: 0.1, MinSamples: 50, Confidence: 0.99},
			alerts:   map[string][]string{"feature_drift": {"demo"}},
		},
		{
			name:     "a demo model with the demo's baseline as a file (its columns are the demo's inputs)",
			src:      head + "    drift: {baseline: base.json}\n",
			files:    map[string]string{"base.json": "BASELINE"},
			features: []string{"age", "monthly_income", "years_at_company", "job_satisfaction", "overtime", "distance_from_home", "num_companies_worked"},
			drift:    Drift{File: "base.json", Window: Duration(time.Hour), Threshold: 0.2, MinSamples: 200, Confidence: 0.999},
			alerts:   map[string][]string{"feature_drift": {"demo"}},
		},
		{
			name:     "an mlflow model with a baseline file beside stack.yaml",
			src:      "name: s\nmodels:\n  - name: m\n    kind: mlflow\n    image: m:1\n    drift:\n      baseline: base.json\n      features: [age]\n",
			files:    map[string]string{"base.json": "BASELINE"},
			features: []string{"age"},
			drift:    Drift{File: "base.json", Features: []string{"age"}, Window: Duration(time.Hour), Threshold: 0.2, MinSamples: 200, Confidence: 0.999},
			alerts:   map[string][]string{"feature_drift": {"m"}, "high_cpu": {"m"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.files {
				tc.files[k] = strings.ReplaceAll(v, "BASELINE", demoBaseline(t))
			}
			s, err := loadIn(t, tc.src, tc.files)
			if err != nil {
				t.Fatal(err)
			}
			m := s.Models[0]
			if !m.DriftEnabled() {
				t.Fatal("drift not enabled")
			}
			if got := featureNames(m.Drift.Baseline); !reflect.DeepEqual(got, tc.features) {
				t.Errorf("features %v, want %v", got, tc.features)
			}
			settings := *m.Drift
			settings.Baseline = nil
			if !reflect.DeepEqual(settings, tc.drift) {
				t.Errorf("drift %+v, want %+v", settings, tc.drift)
			}
			if got := m.BaselineFile(); got != "exporter/"+m.Name+".baseline.json" {
				t.Errorf("BaselineFile %q", got)
			}
			for name, want := range tc.alerts {
				var got []string
				for _, a := range s.EffectiveAlerts() {
					if a.Name == name {
						for _, md := range s.ModelsFor(a) {
							got = append(got, md.Name)
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("alert %s applies to %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestDriftOffByDefault(t *testing.T) {
	s := mustParse(t, head)
	if s.Models[0].DriftEnabled() || s.Models[0].Drift != nil {
		t.Error("drift on without a drift section")
	}
	for _, a := range s.EffectiveAlerts() {
		if isDriftKind(a.Kind) {
			t.Errorf("default alert %s without drift", a.Name)
		}
	}
	// Negative control: with drift, the drift alerts are there.
	s = mustParse(t, head+"    drift: {}\n")
	n := 0
	for _, a := range s.EffectiveAlerts() {
		if isDriftKind(a.Kind) {
			n++
			if a.For == nil || a.For.D() != DriftFor {
				t.Errorf("%s for %v, want %s", a.Name, a.For, DriftFor)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d drift alerts, want 3", n)
	}
}

func TestDriftProblems(t *testing.T) {
	mlflow := "name: s\nmodels:\n  - name: m\n    kind: mlflow\n    image: m:1\n"
	tests := []struct {
		name  string
		src   string
		files map[string]string
		want  string
	}{
		{"mlflow needs a baseline file", mlflow + "    drift: {}\n", nil,
			"stack.yaml:6:5: models[0].drift.baseline: is required for kind mlflow"},
		{"missing file", mlflow + "    drift: {baseline: nope.json}\n", nil,
			`stack.yaml:6:13: models[0].drift.baseline: file "nope.json" does not exist (relative to stack.yaml); make it with 'stackgen baseline`},
		{"not a baseline", mlflow + "    drift:\n      baseline: b.json\n", map[string]string{"b.json": `{"format": "other"}`},
			`stack.yaml:7:7: models[0].drift.baseline: b.json: format: "other", want "stackgen/baseline/v1"`},
		{"not JSON", mlflow + "    drift:\n      baseline: b.json\n", map[string]string{"b.json": "a,b\n1,2\n"},
			"stack.yaml:7:7: models[0].drift.baseline: b.json: not a baseline file"},
		{"unknown feature", head + "    drift:\n      features: [age, agee]\n", nil,
			`stack.yaml:6:23: models[0].drift.features[1]: "agee" is not a feature of the baseline (it has age, monthly_income`},
		{"duplicate feature", head + "    drift:\n      features: [age, age]\n", nil,
			`models[0].drift.features[1]: "age" is listed twice`},
		{"short window", head + "    drift: {window: 30s}\n", nil,
			"models[0].drift.window: must be at least 1m (got 30s)"},
		{"window not a duration", head + "    drift:\n      window: soon\n", nil,
			`stack.yaml:6:7: models[0].drift.window: "soon" is not a duration`},
		{"threshold 0 is not the default", head + "    drift:\n      threshold: 0\n", nil,
			"stack.yaml:6:7: models[0].drift.threshold: must be > 0 (got 0); remove the line for the default 0.2"},
		{"negative threshold", head + "    drift:\n      threshold: -1\n", nil,
			"stack.yaml:6:7: models[0].drift.threshold: must be > 0, a PSI such as 0.2 (got -1)"},
		{"min_samples 0", head + "    drift:\n      min_samples: 0\n", nil,
			"stack.yaml:6:7: models[0].drift.min_samples: must be >= 1 (got 0)"},
		{"confidence 1", head + "    drift:\n      confidence: 1\n", nil,
			"stack.yaml:6:7: models[0].drift.confidence: must be at least 0.5 and below 1, e.g. 0.999 (got 1)"},
		{"confidence 0.4", head + "    drift:\n      confidence: 0.4\n", nil,
			"models[0].drift.confidence: must be at least 0.5 and below 1"},
		{"unknown drift key", head + "    drift:\n      treshold: 0.3\n", nil,
			`stack.yaml:6:7: models[0].drift.treshold: unknown field "treshold"; did you mean "threshold"?`},
		{"feature_drift takes the drift threshold", head + "    drift: {}\nalerts:\n  - name: feature_drift\n    threshold: 0.5\n", nil,
			"alerts[0].threshold: kind feature_drift takes its PSI threshold from models[].drift.threshold; set it there"},
		{"a drift alert without drift", head + "alerts:\n  - name: fd\n    kind: feature_drift\n", nil,
			"alerts[0].kind: kind feature_drift needs a model with drift configured"},
		{"confidence_drop without a confidence baseline", head + "    drift: {}\nalerts:\n  - name: cd\n    kind: confidence_drop\n    threshold: 0.1\n", nil,
			"alerts[0].kind: kind confidence_drop needs a model with drift configured (models[].drift: {baseline: FILE} whose baseline has a confidence"},
		{"a demo model with a baseline of other columns", head + "    drift:\n      baseline: b.json\n", map[string]string{"b.json": "RENAMED"},
			`stack.yaml:6:7: models[0].drift.baseline: b.json: columns (alter, monthly_income, years_at_company, job_satisfaction, overtime, distance_from_home, num_companies_worked) are not the demo model's inputs (age, monthly_income, years_at_company, job_satisfaction, overtime, distance_from_home, num_companies_worked, in this order)`},
		{"confidence_drop is a probability", head + "    drift: {}\nalerts:\n  - name: confidence_drop\n    threshold: 2\n", nil,
			"alerts[0].threshold: is a drop in mean top-class probability between 0 and 1"},
	}
	// The demo baseline with one column renamed: valid, but not the demo's.
	renamed := strings.ReplaceAll(demoBaseline(t), `"age"`, `"alter"`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.files {
				tc.files[k] = strings.ReplaceAll(v, "RENAMED", renamed)
			}
			_, err := loadIn(t, tc.src, tc.files)
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("want problems, got %v", err)
			}
			got := strings.ReplaceAll(probs.Error(), filepath.Dir(probs[0].File)+string(filepath.Separator), "")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\ndo not contain:\n%s", got, tc.want)
			}
		})
	}
}

func TestDriftValidateWithoutPositions(t *testing.T) {
	s := &Stack{Name: "s", Models: []Model{{Name: "demo", Kind: KindDemo, Drift: &Drift{Features: []string{"age"}}}}}
	s.ApplyDefaults()
	if probs := s.Validate(); len(probs) > 0 {
		t.Fatal(probs)
	}
	if !s.Models[0].DriftEnabled() || len(s.Models[0].Drift.Baseline.Features) != 1 {
		t.Error("Validate did not load the baseline")
	}
}
