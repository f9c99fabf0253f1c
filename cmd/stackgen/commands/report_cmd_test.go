package commands

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// fakePrometheus answers the Prometheus API calls the report makes, with
// no series, no targets and no rules.
func fakePrometheus(t *testing.T) (port int, asked func() int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var data any
		switch r.URL.Path {
		case "/api/v1/status/buildinfo":
			data = map[string]string{"version": "2.42.0"}
		case "/api/v1/query":
			data = map[string]any{"resultType": "vector", "result": []any{}}
		case "/api/v1/query_range":
			data = map[string]any{"resultType": "matrix", "result": []any{}}
		case "/api/v1/targets":
			data = map[string]any{"activeTargets": []any{}, "droppedTargets": []any{}}
		case "/api/v1/rules":
			data = map[string]any{"groups": []any{}}
		default:
			http.Error(w, `{"status":"error","errorType":"not_found","error":"no such endpoint"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}))
	t.Cleanup(srv.Close)
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port, err = strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port, n.Load
}

// freePort is a local port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// reportStack writes a stack.yaml whose Prometheus is on the host port.
func reportStack(t *testing.T, dir string, port int) string {
	t.Helper()
	y := fmt.Sprintf("name: rpt\nmodels: [{name: demo, kind: demo}]\nprometheus: {port: %d}\ngrafana: {enabled: false}\n"+
		"alerting: {engine: prometheus}\nsmtp: {mode: \"off\"}\n", port)
	f := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(f, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// runRoot runs the CLI like Execute, with its output in buffers, and
// returns the exit code Execute would.
func runRoot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := NewRoot()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	code = 0
	if err != nil {
		code = 1
		var ee *ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

// TestReportCommand runs stackgen report against a fake Prometheus: exit 0
// and the page's absolute path printed; exit 2 for a bad stack.yaml or
// --from; exit 1 when Prometheus does not answer.
func TestReportCommand(t *testing.T) {
	port, asked := fakePrometheus(t)
	dir := t.TempDir()
	good := reportStack(t, dir, port)
	down := reportStack(t, t.TempDir(), freePort(t))
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: rpt\nmodels: []\nprometheus: {port: -3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	deploy := filepath.Join(dir, "deploy") // no stack there: the header says why
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout (code 0) or in the error
	}{
		{"report written", []string{"-f", good, "--from", "-10m", "--to", "1767366000"}, 0, filepath.Join(out, "index.html") + "\n"},
		{"bad stack.yaml", []string{"-f", bad}, 2, "problem"},
		{"missing stack.yaml", []string{"-f", filepath.Join(dir, "none.yaml")}, 2, "none.yaml"},
		{"bad --from", []string{"-f", good, "--from", "yesterday"}, 2, "--from"},
		{"--from after --to", []string{"-f", good, "--from", "1767366001", "--to", "1767366000"}, 2, "must be before"},
		{"Prometheus does not answer", []string{"-f", down}, 1, "does not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := asked()
			args := append([]string{"report", "-o", out, "--deploy-dir", deploy}, tt.args...)
			code, stdout, stderr := runRoot(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %s)", code, tt.code, stderr)
			}
			if tt.code == 0 {
				if stdout != tt.want {
					t.Fatalf("printed %q, want %q", stdout, tt.want)
				}
				page, err := os.ReadFile(strings.TrimSpace(stdout))
				if err != nil || !strings.Contains(string(page), "stackgen report: rpt") {
					t.Fatalf("page: %v", err)
				}
				if asked() == before {
					t.Fatal("the fake Prometheus was not asked")
				}
				// Execute's own exit code agrees.
				if got := Execute(args); got != 0 {
					t.Fatalf("Execute: exit %d", got)
				}
				return
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("error %q lacks %q", stderr, tt.want)
			}
			if got := Execute(args); got != tt.code {
				t.Errorf("Execute: exit %d, want %d", got, tt.code)
			}
		})
	}
}

// TestUsageErrorsExit2: cobra's refusals (unknown command, unknown flag,
// bad flag value, extra arguments) exit 2 as the README says; healthcheck keeps 1 (Docker
// HEALTHCHECK: 2 is reserved); a valid command line still exits 0.
func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"report", "--nope"}, 2},
		{[]string{"render", "--nope"}, 2},
		{[]string{"validate", "extra", "args"}, 2},
		{[]string{"report", "extra"}, 2},
		{[]string{"load", "--rate", "fast"}, 2},
		{[]string{"version", "--nope"}, 2},
		{[]string{"nope"}, 2},
		{[]string{"--nope"}, 2},
		{[]string{"healthcheck", "--nope", "http://127.0.0.1:1/"}, 1},
		{[]string{"healthcheck"}, 1},
		{[]string{"version"}, 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := Execute(tt.args); got != tt.code {
				t.Errorf("stackgen %v: exit %d, want %d", tt.args, got, tt.code)
			}
		})
	}
}
