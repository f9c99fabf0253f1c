package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		stack    string
		args     []string
		code     int
		errHas   string
		deploy   string // folder that must exist afterwards ("" = none)
		noDeploy string // folder that must not exist afterwards
	}{
		{
			name:   "default output beside stack.yaml",
			stack:  "name: d\nmodels: [{name: demo, kind: demo}]\n",
			deploy: "deploy",
		},
		{
			name:   "-o chooses the folder",
			stack:  "name: d\nmodels: [{name: demo, kind: demo}]\n",
			args:   []string{"-o", "out/stack"},
			deploy: "out/stack",
		},
		{
			name:     "invalid stack writes nothing",
			stack:    "name: d\nmodels:\n  - name: demo\n    kind: demo\nalerts:\n  - name: high_error_ratio\n    threshold: -1\n",
			code:     exitInvalid,
			errHas:   "stack.yaml:7:5: alerts[0].threshold: must be > 0 (got -1)",
			noDeploy: "deploy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			writeStackFile(t, "stack.yaml", tt.stack)
			code, stdout, _, err := runCLI(t, append([]string{"render"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tt.code, err)
			}
			if tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
				t.Errorf("error %v does not contain %q", err, tt.errHas)
			}
			if tt.deploy != "" {
				if _, err := os.Stat(filepath.Join(tt.deploy, "compose.yaml")); err != nil {
					t.Errorf("no compose.yaml in %s: %v", tt.deploy, err)
				}
				if !strings.Contains(stdout, tt.deploy) {
					t.Errorf("output %q does not name %s", stdout, tt.deploy)
				}
			}
			if tt.noDeploy != "" {
				if _, err := os.Stat(tt.noDeploy); !os.IsNotExist(err) {
					t.Errorf("%s exists after a failed render", tt.noDeploy)
				}
			}
		})
	}
}
