package commands

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/baseline"
	"github.com/stackgen/stackgen/model"
	"github.com/stackgen/stackgen/modelserver"
)

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBaselineReproducesDemoBaseline: stackgen baseline on the demo's
// training data, asking the demo model server (the real one, in process) for
// its predictions, writes the embedded demo baseline.
func TestBaselineReproducesDemoBaseline(t *testing.T) {
	srv := httptest.NewServer(modelserver.New(modelserver.Config{}))
	defer srv.Close()
	data := writeTemp(t, "attrition.csv", string(model.AttritionCSV()))
	out := filepath.Join(t.TempDir(), "baseline.json")
	code, _, stderr, err := runCLI(t, "baseline", "--data", data, "--target", "attrition", "--predict", srv.URL+"/invocations", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	got, err := baseline.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedBy, want.CreatedBy = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stackgen baseline on attrition.csv differs from the embedded demo baseline:\n%+v\nvs\n%+v", got.Prediction, want.Prediction)
	}
	for _, line := range []string{"age ", "overtime ", "prediction (class, from model): 0 72.6%, 1 27.4%", "baseline of 500 rows, 7 features"} {
		if !strings.Contains(stderr, line) {
			t.Errorf("summary lacks %q:\n%s", line, stderr)
		}
	}
}

// TestBaselineTargetMix: without --predict the class mix is the target's,
// which differs from the model's (the negative control of the test above).
func TestBaselineTargetMix(t *testing.T) {
	data := writeTemp(t, "attrition.csv", string(model.AttritionCSV()))
	code, stdout, _, err := runCLI(t, "baseline", "--data", data, "--target", "attrition", "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	b, err := baseline.Parse([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := model.DefaultBaseline()
	if p := b.Prediction; p == nil || p.From != "target" || p.Bins[1].Count != 148 || reflect.DeepEqual(p, want.Prediction) {
		t.Errorf("prediction %+v, want the target's mix (148 of class 1)", p)
	}
	if !reflect.DeepEqual(b.Features, want.Features) {
		t.Error("features differ from the demo baseline's")
	}
}

func TestBaselineErrors(t *testing.T) {
	good := writeTemp(t, "train.csv", "a,b,y\n1,x,0\n2,y,1\n")
	ragged := writeTemp(t, "ragged.csv", "a,b\n1,2\n3\n")
	existing := writeTemp(t, "exists.json", "{}")
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error_code": "BAD_REQUEST", "message": "no such column"}`))
	}))
	defer failing.Close()
	out := func() string { return filepath.Join(t.TempDir(), "b.json") }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no data", []string{"-o", out()}, 2, "missing --data"},
		{"no output", []string{"--data", good}, 2, "missing -o/--output"},
		{"bins 1", []string{"--data", good, "--bins", "1", "-o", out()}, 2, "--bins 1: must be between 2 and 100"},
		{"missing file", []string{"--data", good + ".nope", "-o", out()}, 2, "--data: open"},
		{"ragged row", []string{"--data", ragged, "-o", out()}, 2, ragged + ":3: wrong number of fields"},
		{"unknown target", []string{"--data", good, "--target", "z", "-o", out()}, 2, good + `:1: column "z": target column not in the header (a, b, y)`},
		{"existing output", []string{"--data", good, "-o", existing}, 2, existing + " exists; pass --force to replace it"},
		{"bad predict URL", []string{"--data", good, "--predict", "localhost:8000", "-o", out()}, 2, "want an http(s) URL"},
		{"model refuses", []string{"--data", good, "--predict", failing.URL, "-o", out()}, 1, "400 Bad Request: no such column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, _, err := runCLI(t, append([]string{"baseline"}, tc.args...)...)
			if code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d (%v), want %d with %q", code, err, tc.code, tc.want)
			}
		})
	}
	// Negative control of "existing output": --force replaces it.
	if code, _, _, err := runCLI(t, "baseline", "--data", good, "--target", "y", "--force", "-o", existing); code != 0 {
		t.Fatalf("--force: exit %d: %v", code, err)
	}
	if _, err := baseline.Load(existing); err != nil {
		t.Errorf("--force did not write a baseline: %v", err)
	}
}
