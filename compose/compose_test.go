package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackgen/stackgen/stack"
)

func mustStack(t *testing.T, dir, src string) *stack.Stack {
	t.Helper()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(path)
	if err != nil {
		t.Fatalf("load stack: %v", err)
	}
	return s
}

// load renders s into dir/deploy and loads it back with compose-go's loader.
func load(t *testing.T, s *stack.Stack, dir string) (*types.Project, string) {
	t.Helper()
	out := filepath.Join(dir, "deploy")
	files, err := Render(s, out)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, FileName)
	if err := os.WriteFile(path, files[FileName], 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  out,
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		Environment: types.Mapping{EnvGrafanaAdminPass: "x", EnvSMTPPassword: "y"},
	})
	if err != nil {
		t.Fatalf("compose-go cannot load the rendered file: %v\n%s", err, files[FileName])
	}
	return p, string(files[FileName])
}

const demo = `
name: demo
models:
  - name: demo
    kind: demo
    environment:
      GREETING: "costs $5"
`

func TestRoundTripThroughComposeLoader(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		services []string
		check    func(t *testing.T, p *types.Project, raw string)
	}{
		{
			name:     "demo with grafana and local mail",
			src:      demo,
			services: []string{"demo", "demo-exporter", "grafana", "mailcatcher", "prometheus"},
			check: func(t *testing.T, p *types.Project, raw string) {
				exp := p.Services["demo-exporter"]
				if d := exp.DependsOn["demo"]; d.Condition != types.ServiceConditionHealthy || !d.Required {
					t.Errorf("exporter depends_on demo = %+v, want service_healthy, required", d)
				}
				if exp.HealthCheck == nil || !strings.Contains(strings.Join(exp.HealthCheck.Test, " "), "/readyz") {
					t.Errorf("exporter healthcheck = %+v", exp.HealthCheck)
				}
				if got := *p.Services["demo"].Environment["GREETING"]; got != "costs $5" {
					t.Errorf("$ not escaped: loader read %q", got)
				}
				if _, ok := p.Volumes[VolumePrometheus]; !ok {
					t.Errorf("no %s volume", VolumePrometheus)
				}
				g := p.Services["grafana"]
				if g.Environment["GF_SMTP_HOST"] == nil || *g.Environment["GF_SMTP_HOST"] != "mailcatcher:1025" {
					t.Errorf("grafana SMTP host = %v", g.Environment["GF_SMTP_HOST"])
				}
				if p.Secrets[SecretGrafanaAdmin].Environment != EnvGrafanaAdminPass {
					t.Errorf("grafana admin secret = %+v", p.Secrets[SecretGrafanaAdmin])
				}
			},
		},
		{
			name: "tfserving with alertmanager and external smtp",
			src: `
name: tf
models:
  - name: diabetes
    kind: tfserving
    model_name: diabetes-prediction
    model_base_path: ./models/diabetes-prediction
alerting:
  engine: prometheus
grafana:
  enabled: false
smtp:
  host: smtp.example.com:587
  user: me@example.com
  from_address: me@example.com
  recipients: [ops@example.com]
`,
			services: []string{"alertmanager", "diabetes", "diabetes-exporter", "prometheus"},
			check: func(t *testing.T, p *types.Project, raw string) {
				tf := p.Services["diabetes"]
				if tf.Environment["MODEL_NAME"] == nil || *tf.Environment["MODEL_NAME"] != "diabetes-prediction" {
					t.Errorf("MODEL_NAME = %v", tf.Environment["MODEL_NAME"])
				}
				var mounted bool
				for _, v := range tf.Volumes {
					if v.Target == "/models/diabetes-prediction" && v.ReadOnly {
						mounted = true
					}
				}
				if !mounted {
					t.Errorf("model folder not mounted read-only: %+v", tf.Volumes)
				}
				if p.Secrets[SecretSMTPPassword].Environment != EnvSMTPPassword {
					t.Errorf("smtp secret = %+v", p.Secrets[SecretSMTPPassword])
				}
				if len(p.Services["alertmanager"].Secrets) != 1 {
					t.Errorf("alertmanager has no smtp secret")
				}
			},
		},
		{
			name: "remote model has only an exporter",
			src: `
name: remote
bind_address: 0.0.0.0
models:
  - name: far
    kind: remote
    url: https://model.example.com
    model_name: diabetes-prediction
grafana: {enabled: false}
alerting: {engine: prometheus}
smtp: {mode: off}
`,
			services: []string{"alertmanager", "far-exporter", "prometheus"},
			check: func(t *testing.T, p *types.Project, raw string) {
				if len(p.Services["far-exporter"].DependsOn) != 0 {
					t.Errorf("remote exporter depends on %v", p.Services["far-exporter"].DependsOn)
				}
				if ip := p.Services["prometheus"].Ports[0].HostIP; ip != "0.0.0.0" {
					t.Errorf("bind address = %q, want 0.0.0.0 as asked", ip)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "models/diabetes-prediction"), 0o755); err != nil {
				t.Fatal(err)
			}
			s := mustStack(t, dir, tt.src)
			p, raw := load(t, s, dir)
			if got := strings.Join(p.ServiceNames(), ","); got != strings.Join(tt.services, ",") {
				t.Errorf("services = %s, want %s", got, strings.Join(tt.services, ","))
			}
			for name, svc := range p.Services {
				for _, port := range svc.Ports {
					if s.BindAddress == "127.0.0.1" && port.HostIP != "127.0.0.1" {
						t.Errorf("%s publishes %s on %q, want 127.0.0.1", name, port.Published, port.HostIP)
					}
				}
				if svc.Image == "" {
					t.Errorf("%s has no image", name)
				} else if !strings.Contains(svc.Image, ":") {
					t.Errorf("%s image %q has no tag", name, svc.Image)
				}
				if svc.Restart == "" {
					t.Errorf("%s has no restart policy", name)
				}
			}
			if p.Name != s.Name {
				t.Errorf("project name = %q", p.Name)
			}
			tt.check(t, p, raw)
		})
	}
}

func TestSecretsNeverRendered(t *testing.T) {
	t.Setenv(EnvSMTPPassword, "hunter2-smtp")
	t.Setenv(EnvGrafanaAdminPass, "hunter2-admin")
	dir := t.TempDir()
	s := mustStack(t, dir, `
name: s
models: [{name: m, kind: demo}]
smtp: {host: "smtp.example.com:587", user: u@example.com, from_address: u@example.com, recipients: [a@example.com]}
`)
	files, err := Render(s, filepath.Join(dir, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2-smtp", "hunter2-admin"} {
		if strings.Contains(string(files[FileName]), secret) {
			t.Errorf("compose.yaml contains the secret %q", secret)
		}
	}
}

func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	s := mustStack(t, dir, demo)
	a, err := Render(s, filepath.Join(dir, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, err := Render(s, filepath.Join(dir, "deploy"))
		if err != nil {
			t.Fatal(err)
		}
		if string(a[FileName]) != string(b[FileName]) {
			t.Fatal("two renders of the same stack differ")
		}
	}
}

// TestRootComposeRunsDemo loads the repository's root compose.yaml, which
// includes the committed demo deploy folder.
func TestRootComposeRunsDemo(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "compose.yaml")}},
		Environment: types.Mapping{EnvGrafanaAdminPass: "x"},
	}, func(o *loader.Options) { o.SetProjectName("demo", true) })
	if err != nil {
		t.Fatalf("root compose.yaml does not load: %v", err)
	}
	for _, svc := range []string{"demo", "demo-exporter", "prometheus", "grafana", "mailcatcher"} {
		if _, ok := p.Services[svc]; !ok {
			t.Errorf("root compose.yaml lacks service %s", svc)
		}
	}
	src := p.Services["prometheus"].Volumes[0].Source
	if want := filepath.Join(root, "examples/demo/deploy/prometheus"); src != want {
		t.Errorf("prometheus config mounted from %s, want %s", src, want)
	}
}

// TestExporterSettingsAndHealthTiming checks, through compose-go's loader, that
// exporter.body_timeout and exporter.max_in_flight reach every exporter as
// --body-timeout and --max-in-flight (defaults and set values), and that every
// healthcheck runs every 2 s.
func TestExporterSettingsAndHealthTiming(t *testing.T) {
	tests := []struct {
		name        string
		exporter    string
		bodyTimeout string
		maxInFlight string
	}{
		{name: "defaults", bodyTimeout: "30s", maxInFlight: "1024"},
		{name: "set", exporter: "exporter:\n  body_timeout: 1m30s\n  max_in_flight: 7\n", bodyTimeout: "1m30s", maxInFlight: "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustStack(t, dir, "name: d\nmodels:\n  - name: a\n    kind: demo\n  - name: b\n    kind: demo\n"+tt.exporter)
			p, _ := load(t, s, dir)
			for _, name := range []string{"a-exporter", "b-exporter"} {
				args := map[string]string{}
				cmd := p.Services[name].Command
				for i := 0; i+1 < len(cmd); i++ {
					args[cmd[i]] = cmd[i+1]
				}
				if args["--body-timeout"] != tt.bodyTimeout || args["--max-in-flight"] != tt.maxInFlight {
					t.Errorf("%s: --body-timeout %q --max-in-flight %q, want %q %q (command %v)",
						name, args["--body-timeout"], args["--max-in-flight"], tt.bodyTimeout, tt.maxInFlight, cmd)
				}
			}
			checked := 0
			for name, svc := range p.Services {
				if svc.HealthCheck == nil {
					continue
				}
				checked++
				if svc.HealthCheck.Interval == nil || time.Duration(*svc.HealthCheck.Interval) != 2*time.Second {
					t.Errorf("%s: healthcheck interval %v, want 2s", name, svc.HealthCheck.Interval)
				}
				if svc.HealthCheck.StartPeriod == nil || time.Duration(*svc.HealthCheck.StartPeriod) <= 0 {
					t.Errorf("%s: no start period", name)
				}
			}
			if checked < 5 {
				t.Errorf("only %d services have a healthcheck", checked)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	s := mustStack(t, dir, demo)
	out := filepath.Join(dir, "deploy") // not created: Check reads from memory
	files, err := Render(s, out)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(string) string
		want string // substring of the error; "" for none
	}{
		{name: "rendered file passes", edit: func(s string) string { return s }},
		{name: "depends on a missing service", edit: func(s string) string {
			return strings.Replace(s, "depends_on:\n      demo:", "depends_on:\n      nothere:", 1)
		}, want: "nothere"},
		{name: "not compose at all", edit: func(string) string { return "services: [1, 2]\n" }, want: "compose rejects it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := map[string][]byte{FileName: []byte(tt.edit(string(files[FileName])))}
			err := Check(f, out, s.Name)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
