package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/baseline"
)

// TestExporterBaselineFlag: --baseline is documented, and a missing or
// invalid file exits 2 with baseline.Load's error before anything listens.
func TestExporterBaselineFlag(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format":"stackgen/baseline/v0","rows":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(notJSON, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"exporter", "--upstream", "http://127.0.0.1:1", "--kind", "mlflow", "--listen", "256.0.0.1:0"}
	tests := []struct {
		name     string
		file     string
		wantCode int
		wantErr  []string
	}{
		{"missing file", filepath.Join(dir, "nope.json"), 2, []string{"--baseline", "nope.json", "no such file"}},
		{"wrong format", bad, 2, []string{"--baseline", "bad.json", "format", "stackgen/baseline/v1"}},
		{"not a baseline", notJSON, 2, []string{"--baseline", "train.csv", "stackgen baseline --data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runCLI(t, append(base, "--baseline", tt.file)...)
			if code != tt.wantCode || err == nil {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.wantCode)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Controls: without --baseline, or with a valid one, the same flags get
	// past validation and fail only when listening on the impossible
	// address (exit 1).
	good := &baseline.Baseline{Format: baseline.Format, Rows: 10, Columns: []string{"x"},
		Features: []baseline.Feature{{Name: "x", Kind: baseline.KindNumeric, Edges: []float64{0},
			Bins: []baseline.Bin{{Label: "neg", Ratio: .5}, {Label: "pos", Ratio: .5}}}}}
	data, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	goodFile := filepath.Join(dir, "baseline.json")
	if err := os.WriteFile(goodFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{base, append(base[:len(base):len(base)], "--baseline", goodFile)} {
		if code, _, _, err := runCLI(t, args...); code != 1 || !strings.Contains(fmt.Sprint(err), "listen") {
			t.Errorf("%v: exit %d (%v), want 1 (listen error)", args, code, err)
		}
	}
	_, out, _, err := runCLI(t, "exporter", "--help")
	if err != nil || !strings.Contains(out, "--baseline") || !strings.Contains(out, "model_feature_bin_total") {
		t.Errorf("exporter --help does not document --baseline: %v\n%s", err, out)
	}
}
