package drift

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/internal/testtool"
	stackmodel "github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/stack"
)

// testBaseline has two numeric features (4 and 10 bins), one categorical
// (3 bins), a class mix and a confidence mean: the shapes the rules handle.
func testBaseline() *baseline.Baseline {
	bins := func(labels []string, ratios []float64, m int) []baseline.Bin {
		out := make([]baseline.Bin, len(labels))
		for i := range labels {
			out[i] = baseline.Bin{Label: labels[i], Ratio: ratios[i], Count: int(ratios[i]*float64(m) + 0.5)}
		}
		return out
	}
	ten := make([]string, 10)
	tenR := make([]float64, 10)
	edges := make([]float64, 9)
	for i := range ten {
		ten[i] = string(rune('a'+i)) + "bin"
		tenR[i] = 0.1
		if i < 9 {
			edges[i] = float64(i + 1)
		}
	}
	b := &baseline.Baseline{
		Format:  baseline.Format,
		Rows:    1000,
		Columns: []string{"age", "income", "dept"},
		Features: []baseline.Feature{
			{Name: "age", Kind: baseline.KindNumeric, Edges: []float64{30, 40, 50}, Min: 18, Max: 70,
				Bins: bins([]string{"0 <30", "1 [30,40)", "2 [40,50)", "3 >=50"}, []float64{0.2, 0.3, 0.3, 0.2}, 1000)},
			{Name: "income", Kind: baseline.KindNumeric, Edges: edges, Min: 0, Max: 10, Bins: bins(ten, tenR, 1000)},
			{Name: "dept", Kind: baseline.KindCategorical, Categories: []string{"sales", "eng"},
				Bins: bins([]string{"sales", "eng", baseline.OtherLabel}, []float64{0.5, 0.3, 0.2}, 1000)},
		},
		Prediction: &baseline.Prediction{Kind: baseline.PredictionClass, From: "target",
			Bins:       bins([]string{"0", "1"}, []float64{0.7, 0.3}, 1000),
			Confidence: &baseline.Confidence{Mean: 0.8, Rows: 1000}},
	}
	if err := b.Validate(); err != nil {
		panic(err)
	}
	return b
}

func testSpec() Spec {
	return Spec{Model: "demo", Window: 10 * time.Minute, Threshold: 0.2, MinSamples: 200, Confidence: 0.999, Baseline: testBaseline()}
}

// renderRules renders sp's rule file.
func renderRules(t *testing.T, sp Spec) []byte {
	t.Helper()
	files, err := Files([]Spec{sp}, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return files[RulesPath(sp.Model)]
}

func TestRulesParseWithPrometheus(t *testing.T) {
	noPred := testSpec()
	noPred.Baseline.Prediction = nil
	onlyPred := testSpec()
	onlyPred.Baseline.Features = nil
	cases := []struct {
		name    string
		spec    Spec
		records []string // must be present
		absent  []string
	}{
		{"features and classes", testSpec(), []string{stack.RecFeaturePSI, stack.RecFeaturePSIThreshold, stack.RecPredictionPSI, stack.RecPredictionConfidenceMean}, nil},
		{"features only", noPred, []string{stack.RecFeaturePSI}, []string{stack.RecPredictionPSI, stack.RecPredictionConfidenceMean}},
		{"classes only", onlyPred, []string{stack.RecPredictionPSIThreshold}, []string{stack.RecFeaturePSI}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := renderRules(t, c.spec)
			groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
			if len(errs) > 0 {
				t.Fatalf("Prometheus' rule parser refuses the drift rules: %v\n%s", errs, data)
			}
			got := map[string]int{}
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					got[r.Record]++
				}
			}
			for _, r := range c.records {
				if got[r] == 0 {
					t.Errorf("no %s rule", r)
				}
			}
			for _, r := range c.absent {
				if got[r] != 0 {
					t.Errorf("unexpected %s rule", r)
				}
			}
			if n := len(c.spec.Baseline.Features); got[stack.RecFeaturePSIThreshold] != n {
				t.Errorf("%d threshold rules, want one per feature (%d)", got[stack.RecFeaturePSIThreshold], n)
			}
			promtool := testtool.Path(t, "apt-get install prometheus", "promtool")
			checkRules(t, promtool, data, true)
		})
	}
}

// TestPromtoolRejectsBrokenRules is the negative control of the promtool
// check: a rule file with a PromQL error must be refused.
func TestPromtoolRejectsBrokenRules(t *testing.T) {
	promtool := testtool.Path(t, "apt-get install prometheus", "promtool")
	data := strings.Replace(string(renderRules(t, testSpec())), "sum by", "sum bye", 1)
	checkRules(t, promtool, []byte(data), false)
}

func checkRules(t *testing.T, promtool string, data []byte, wantOK bool) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "drift.yml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", p).CombinedOutput()
	if (err == nil) != wantOK {
		t.Fatalf("promtool check rules: ok=%v, want %v: %s\n%s", err == nil, wantOK, out, data)
	}
}

func TestPrintRules(t *testing.T) {
	if os.Getenv("DRIFT_PRINT") == "" {
		t.Skip()
	}
	b, err := stackmodel.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", renderRules(t, Spec{Model: "demo", Window: time.Hour, Baseline: b}))
}
