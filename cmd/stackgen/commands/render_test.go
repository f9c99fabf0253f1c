package commands

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackgen/stackgen/stack"
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
		{
			name:     "bad alert template writes nothing",
			stack:    "name: d\nmodels: [{name: demo, kind: demo}]\nalerts:\n  - name: high_cpu\n    summary: '{{ .Invalid'\n",
			code:     exitInvalid,
			errHas:   "stack.yaml:5:5: alerts[0].summary: is not a valid Grafana alert template (line 1: unclosed action)",
			noDeploy: "deploy",
		},
		{
			name:     "models a and a-exporter write nothing",
			stack:    "name: d\nmodels: [{name: a, kind: demo}, {name: a-exporter, kind: demo}]\n",
			code:     exitInvalid,
			errHas:   `models[1].name: service "a-exporter" would be rendered twice`,
			noDeploy: "deploy",
		},
		{
			name:   "a folder: exit 2 with validate's message",
			code:   exitInvalid,
			errHas: "stack.yaml: is a folder, not a stack file; name the file itself, e.g. -f stack.yaml/stack.yaml",
		},
		{
			name:   "render needs no secrets",
			stack:  "name: d\nmodels: [{name: demo, kind: demo}]\nsmtp: {host: 'smtp.example.com:587', user: me, from_address: a@example.com, recipients: [b@example.com]}\n",
			deploy: "deploy",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if tt.stack == "" {
				if err := os.Mkdir("stack.yaml", 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				writeStackFile(t, "stack.yaml", tt.stack)
			}
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

// TestLoadForUp: up's loader refuses a stack whose secrets are missing before
// anything is written, and renders it once they are set.
func TestLoadForUp(t *testing.T) {
	const external = "name: d\nmodels: [{name: demo, kind: demo}]\nsmtp: {host: 'smtp.example.com:587', user: me, from_address: a@example.com, recipients: [b@example.com]}\n"
	tests := []struct {
		name   string
		stack  string
		env    map[string]string
		code   int // 0: rendered
		errHas []string
	}{
		{
			name:  "every secret missing",
			stack: external,
			code:  exitInvalid,
			errHas: []string{
				"stack.yaml has 2 problem(s); nothing was written",
				"STACKGEN_GRAFANA_ADMIN_PASSWORD",
				`stack.yaml:3:38: smtp.user: the mail server needs a password for user "me": export STACKGEN_SMTP_PASSWORD`,
			},
		},
		{
			name:  "secrets set (negative control)",
			stack: external,
			env:   map[string]string{stack.EnvGrafanaAdminPassword: "a", stack.EnvSMTPPassword: "b"},
		},
		{
			name:   "target kubernetes",
			stack:  "name: d\ntarget: kubernetes\nmodels: [{name: demo, kind: demo}]\n",
			env:    map[string]string{stack.EnvGrafanaAdminPassword: "a"},
			code:   exitInvalid,
			errHas: []string{"kubectl apply -k"},
		},
		{
			name:   "invalid stack",
			stack:  "name: d\nmodels: [{name: demo, kind: demo}]\nprometheus: {port: 0}\n",
			env:    map[string]string{stack.EnvGrafanaAdminPassword: "a"},
			code:   exitInvalid,
			errHas: []string{"prometheus.port: must be a port between 1 and 65535 (got 0)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			for _, k := range []string{stack.EnvGrafanaAdminPassword, stack.EnvSMTPPassword} {
				t.Setenv(k, tt.env[k])
			}
			writeStackFile(t, "stack.yaml", tt.stack)
			s, dir, err := loadForUp("stack.yaml", "")
			if tt.code == 0 {
				if err != nil || s == nil {
					t.Fatalf("loadForUp: %v", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "compose.yaml")); err != nil {
					t.Errorf("nothing rendered into %s: %v", dir, err)
				}
				return
			}
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != tt.code {
				t.Fatalf("err %v, want exit %d", err, tt.code)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if _, err := os.Stat("deploy"); !os.IsNotExist(err) {
				t.Error("a deploy folder was written")
			}
		})
	}
}
