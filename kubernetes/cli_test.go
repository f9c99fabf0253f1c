package kubernetes

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stackgenBinary builds cmd/stackgen once per test binary run.
func stackgenBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stackgen")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/stackgen").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCLITarget runs `stackgen render|validate --target` as users do: exit
// codes, what is written, and that the compose path stays the default.
func TestCLITarget(t *testing.T) {
	bin := stackgenBinary(t)
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name, "stack.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "name: good\nmodels: [{name: demo, kind: demo, host_port: 5005}]\n")
	bad := write("bad", "name: my_stack\nmodels: [{name: demo, kind: demo}]\n")
	byField := write("field", "name: field\ntarget: kubernetes\nmodels: [{name: demo, kind: demo}]\n")

	tests := []struct {
		name       string
		args       []string
		code       int
		stderr     string // substring
		written    string // file that must exist after ("" none)
		notWritten string // folder that must not exist after
	}{
		{"render kubernetes", []string{"render", "--target", "kubernetes", "-f", good}, 0, "warning: " + good + ":2:", "good/deploy-kubernetes/kustomization.yaml", "good/deploy"},
		{"render compose by default", []string{"render", "-f", good}, 0, "", "good/deploy/compose.yaml", ""},
		{"target from stack.yaml", []string{"render", "-f", byField}, 0, "", "field/deploy-kubernetes/kustomization.yaml", "field/deploy"},
		{"unknown target", []string{"render", "--target", "k8s", "-f", bad}, 2, `--target: must be one of compose, kubernetes (got "k8s")`, "", "bad/deploy-kubernetes"},
		{"kubernetes problems write nothing", []string{"render", "--target", "kubernetes", "-f", bad}, 2, "name: names Kubernetes objects, which cannot contain '_'", "", "bad/deploy-kubernetes"},
		{"validate kubernetes problems", []string{"validate", "--target", "kubernetes", "-f", bad}, 2, "kubernetes.namespace: must be a DNS label", "", ""},
		{"validate kubernetes warnings only", []string{"validate", "--target", "kubernetes", "-f", good}, 0, "models[0].host_port: host ports are not rendered", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "STACKGEN_GRAFANA_ADMIN_PASSWORD=x")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
			if tc.written != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.written)); err != nil {
					t.Errorf("%s not written: %v", tc.written, err)
				}
			}
			if tc.notWritten != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.notWritten)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists (err %v); nothing may be written", tc.notWritten, err)
				}
			}
		})
	}
}
