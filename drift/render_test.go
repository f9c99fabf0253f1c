package drift

import (
	"strings"
	"testing"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/stack"
)

func parseStack(t *testing.T, yml string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(yml), "stack.yaml")
	if err != nil {
		t.Fatalf("stack.Parse: %v", err)
	}
	return s
}

func TestRenderFromStack(t *testing.T) {
	cases := []struct {
		name     string
		yml      string
		files    []string
		features []string // of the rendered baseline, by model
		noFiles  bool
	}{
		{name: "no drift", yml: "name: s\nmodels:\n  - name: m\n    kind: demo\n", noFiles: true},
		{name: "demo baseline, all features", yml: "name: s\nmodels:\n  - name: m\n    kind: demo\n    drift: {}\n",
			files:    []string{"exporter/m.baseline.json", "prometheus/rules/drift-m.yml"},
			features: []string{"age", "monthly_income", "years_at_company", "job_satisfaction", "overtime", "distance_from_home", "num_companies_worked"}},
		{name: "feature subset", yml: "name: s\nmodels:\n  - name: m\n    kind: demo\n    drift: {features: [overtime, age], window: 30m}\n",
			files:    []string{"exporter/m.baseline.json", "prometheus/rules/drift-m.yml"},
			features: []string{"age", "overtime"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := parseStack(t, c.yml)
			files, err := Render(s, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if c.noFiles {
				if len(files) != 0 {
					t.Fatalf("rendered %d files for a stack without drift", len(files))
				}
				return
			}
			for _, p := range c.files {
				if files[p] == nil {
					t.Errorf("%s not rendered", p)
				}
			}
			if s.Models[0].BaselineFile() != BaselinePath("m") {
				t.Errorf("BaselinePath %q differs from stack's BaselineFile %q", BaselinePath("m"), s.Models[0].BaselineFile())
			}
			b, err := baseline.Parse(files["exporter/m.baseline.json"])
			if err != nil {
				t.Fatalf("rendered baseline does not parse: %v", err)
			}
			var got []string
			for _, f := range b.Features {
				got = append(got, f.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.features, ",") {
				t.Errorf("features %v, want %v", got, c.features)
			}
			rules := string(files["prometheus/rules/drift-m.yml"])
			if n := strings.Count(rules, "record: "+stack.RecFeaturePSIThreshold); n != len(c.features) {
				t.Errorf("%d threshold rules, want %d", n, len(c.features))
			}
			w := "[" + s.Models[0].Drift.Window.String() + "]"
			if !strings.Contains(rules, w) {
				t.Errorf("rules do not use the window %s", w)
			}
		})
	}
}
