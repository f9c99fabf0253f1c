package commands

import (
	"bytes"
	"encoding/csv"
	"math"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/modelserver"
)

// demoDirect is what the demo model itself says on its training rows: how
// many rows it predicts as each class index, and its mean top-class
// probability.
func demoDirect(t *testing.T) (counts [2]int, meanConf float64) {
	t.Helper()
	m := model.Default()
	recs, err := csv.NewReader(bytes.NewReader(model.AttritionCSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, len(m.Features))
	for _, rec := range recs[1:] {
		for i, f := range m.Features {
			j := slices.Index(recs[0], f)
			if j < 0 {
				t.Fatalf("feature %q not in attrition.csv", f)
			}
			if x[i], err = strconv.ParseFloat(rec[j], 64); err != nil {
				t.Fatal(err)
			}
		}
		p := m.Probability(x)
		counts[m.PredictIndex(x)]++
		meanConf += max(p, 1-p)
	}
	return counts, meanConf / float64(len(recs)-1)
}

// TestBaselineTFServingDemo: stackgen baseline --predict against the demo
// model server's TF Serving endpoint (the real one, in process), which
// answers class probabilities, records the model's class mix and its mean
// top-class probability — the same as computed from the model directly —
// and the same mix as the MLflow path (the embedded demo baseline).
func TestBaselineTFServingDemo(t *testing.T) {
	srv := httptest.NewServer(modelserver.New(modelserver.Config{}))
	defer srv.Close()
	data := writeTemp(t, "attrition.csv", string(model.AttritionCSV()))
	wantCounts, wantConf := demoDirect(t)
	demo, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"latest", "/v1/models/demo:predict"},
		{"version", "/v1/models/demo/versions/" + strconv.FormatInt(model.Default().Version, 10) + ":predict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "baseline.json")
			code, _, stderr, err := runCLI(t, "baseline", "--data", data, "--target", "attrition", "--predict", srv.URL+tc.path, "-o", out)
			if code != 0 {
				t.Fatalf("exit %d: %v", code, err)
			}
			b, err := baseline.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			p := b.Prediction
			if p.From != "model" || p.Kind != baseline.PredictionClass || len(p.Bins) != 2 ||
				p.Bins[0].Label != "0" || p.Bins[1].Label != "1" ||
				p.Bins[0].Count != wantCounts[0] || p.Bins[1].Count != wantCounts[1] {
				t.Errorf("prediction %+v, want classes 0, 1 with %v rows (from the model directly)", p, wantCounts)
			}
			if !reflect.DeepEqual(p.Bins, demo.Prediction.Bins) {
				t.Errorf("class mix %+v differs from the MLflow path's %+v", p.Bins, demo.Prediction.Bins)
			}
			// The server answers float32 probabilities: allow their rounding.
			if p.Confidence == nil || p.Confidence.Rows != b.Rows || math.Abs(p.Confidence.Mean-wantConf) > 1e-6 {
				t.Errorf("confidence %+v, want mean %.9f over %d rows", p.Confidence, wantConf, b.Rows)
			}
			if !reflect.DeepEqual(b.Features, demo.Features) {
				t.Error("features differ from the demo baseline's")
			}
			if want := "prediction (class, from model): 0 72.6%, 1 27.4%; mean confidence "; !strings.Contains(stderr, want) {
				t.Errorf("summary lacks %q:\n%s", want, stderr)
			}
			t.Logf("TF Serving baseline: %d/%d rows class 0/1, mean confidence %.6f (model directly: %.6f)",
				p.Bins[0].Count, p.Bins[1].Count, p.Confidence.Mean, wantConf)
		})
	}
}

// TestBaselineProtocolErrors: wrong paths, protocols and models fail with
// a message naming the problem (exit 2 for the flags, 1 for the server).
func TestBaselineProtocolErrors(t *testing.T) {
	srv := httptest.NewServer(modelserver.New(modelserver.Config{}))
	defer srv.Close()
	data := writeTemp(t, "attrition.csv", string(model.AttritionCSV()))
	out := func() string { return filepath.Join(t.TempDir(), "b.json") }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not a predict path", []string{"--predict", srv.URL + "/v1/models/demo", "-o", out()}, 2, "is under /v1/models but is not a TF Serving predict path"},
		{"classify", []string{"--predict", srv.URL + "/v1/models/demo:classify", "-o", out()}, 2, "not a TF Serving predict path"},
		{"unknown model", []string{"--predict", srv.URL + "/v1/models/nope:predict", "-o", out()}, 1, "404 Not Found: Servable not found for request: Latest(nope)"},
		{"unknown version", []string{"--predict", srv.URL + "/v1/models/demo/versions/999:predict", "-o", out()}, 1, "Servable not found for request: Specific(demo, 999)"},
		{"mlflow forced on TF Serving", []string{"--protocol", "mlflow", "--predict", srv.URL + "/v1/models/demo:predict", "-o", out()}, 1, "400 Bad Request"},
		{"bad protocol", []string{"--protocol", "grpc", "--predict", srv.URL + "/v1/models/demo:predict", "-o", out()}, 2, `--protocol "grpc": want auto, mlflow or tfserving`},
		{"protocol without predict", []string{"--protocol", "tfserving", "-o", out()}, 2, "--protocol tfserving needs --predict URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"baseline", "--data", data, "--target", "attrition"}, tc.args...)
			code, _, _, err := runCLI(t, args...)
			if code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d (%v), want %d with %q", code, err, tc.code, tc.want)
			}
		})
	}
	// Negative control of "mlflow forced": the same URL with --protocol
	// tfserving (or auto) works.
	if code, _, _, err := runCLI(t, "baseline", "--data", data, "--target", "attrition", "--protocol", "tfserving",
		"--predict", srv.URL+"/v1/models/demo:predict", "-o", out()); code != 0 {
		t.Errorf("--protocol tfserving: exit %d: %v", code, err)
	}
}
