package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stackgen/stackgen/model"
)

// TestLoadExitCodes: bad input exits 2 with a message naming the fix; a run
// against a live server exits 0 (control); one where nothing succeeds exits 1.
func TestLoadExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"predictions": [0]}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string // in the error message
	}{
		{"control: live server", []string{"--url", srv.URL + "/predict", "-n", "5", "-c", "1"}, 0, ""},
		{"URL without a scheme", []string{"--url", strings.TrimPrefix(srv.URL, "http://") + "/predict", "-n", "1"}, 2, "http://"},
		{"missing payload file", []string{"--url", srv.URL, "-n", "1", "--payload", filepath.Join(dir, "nope.json")}, 2, "nope.json"},
		{"header value with CR/LF", []string{"--url", srv.URL, "-n", "1", "-H", "X-A: b\r\nX-Evil: 1"}, 2, "X-A"},
		{"missing stack.yaml", []string{"-f", filepath.Join(dir, "stack.yaml"), "-n", "1"}, 2, "stack.yaml"},
		{"nothing succeeds", []string{"--url", "http://127.0.0.1:1/predict", "-n", "2", "-c", "1"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _, err := runCLI(t, append([]string{"load"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v does not mention %q", err, tt.want)
			}
		})
	}
}

// TestLoadDriftSampling: for a model with drift, load sends rows sampled
// from its baseline (different bodies, every baseline column), --shift
// moves one feature, and --shift errors exit 2 naming the fix. A model
// without drift gets the fixed example (control).
func TestLoadDriftSampling(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		fmt.Fprint(w, `{"predictions": [0]}`)
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	dir := t.TempDir()
	write := func(name, drift string) string {
		p := filepath.Join(dir, name)
		y := fmt.Sprintf("name: t\nmodels:\n  - name: demo\n    kind: demo\n    exporter_port: %s\n%s", port, drift)
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withDrift := write("drift.yaml", "    drift: {}\n")
	without := write("plain.yaml", "")
	b, err := model.DefaultBaseline()
	if err != nil {
		t.Fatal(err)
	}
	age := b.Feature("age")
	tests := []struct {
		name     string
		args     []string
		code     int
		want     string  // in the error message
		distinct int     // at least this many distinct bodies
		meanAge  float64 // approximate mean age of the rows sent
	}{
		{name: "calm", args: []string{"-f", withDrift}, distinct: 40, meanAge: age.Mean},
		{name: "age +2sd", args: []string{"-f", withDrift, "--shift", "age=+2sd"}, distinct: 40, meanAge: age.Mean + 2*age.Std},
		{name: "no drift: the example (control)", args: []string{"-f", without}, distinct: 1},
		{name: "unknown feature", args: []string{"-f", withDrift, "--shift", "height=+2sd"}, code: 2, want: "features: age, monthly_income"},
		{name: "bad shift", args: []string{"-f", withDrift, "--shift", "age=+xsd"}, code: 2, want: "standard deviations"},
		{name: "shift without drift", args: []string{"-f", without, "--shift", "age=+2sd"}, code: 2, want: "drift: {}"},
		{name: "shift with --url", args: []string{"--url", srv.URL, "--shift", "age=+2sd"}, code: 2, want: "instead of --url"},
		{name: "shift with --payload", args: []string{"-f", withDrift, "--payload", withDrift, "--shift", "age=+2sd"}, code: 2, want: "--payload"},
		{name: "sampled rows in CSV", args: []string{"-f", withDrift, "--format", "csv"}, code: 2, want: "dataframe_split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			bodies = nil
			mu.Unlock()
			code, _, stderr, err := runCLI(t, append([]string{"load", "-n", "200", "-c", "2"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.code)
			}
			if tt.code != 0 {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v does not mention %q", err, tt.want)
				}
				return
			}
			if sampled := strings.Contains(stderr, `sampled from model "demo"'s drift baseline`); sampled != (tt.distinct > 1) {
				t.Errorf("stderr %q: says the rows are sampled = %v", stderr, sampled)
			}
			mu.Lock()
			defer mu.Unlock()
			distinct := map[string]bool{}
			sum, n := 0.0, 0
			for _, body := range bodies {
				distinct[string(body)] = true
				var v struct {
					Split struct {
						Columns []string    `json:"columns"`
						Data    [][]float64 `json:"data"`
					} `json:"dataframe_split"`
				}
				if err := json.Unmarshal(body, &v); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				for _, r := range v.Split.Data {
					sum += r[slices.Index(v.Split.Columns, "age")]
					n++
				}
			}
			if len(distinct) < tt.distinct || (tt.distinct == 1 && len(distinct) != 1) {
				t.Fatalf("%d distinct bodies of %d, want %d", len(distinct), len(bodies), tt.distinct)
			}
			if tt.meanAge != 0 && math.Abs(sum/float64(n)-tt.meanAge) > 2 {
				t.Errorf("mean age %.1f over %d rows, want about %.1f", sum/float64(n), n, tt.meanAge)
			}
		})
	}
}
