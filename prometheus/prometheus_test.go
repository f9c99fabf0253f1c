package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	promconfig "github.com/prometheus/prometheus/config"
	_ "github.com/prometheus/prometheus/discovery/dns" // registers dns_sd_configs, as in the prometheus binary

	"github.com/stackgen/stackgen/internal/testtool"
	"github.com/stackgen/stackgen/stack"
)

func mustParse(t *testing.T, src string) *stack.Stack {
	t.Helper()
	s, err := stack.Parse([]byte(src), "stack.yaml")
	if err != nil {
		t.Fatalf("parse stack: %v", err)
	}
	return s
}

const multi = `
name: multi
models:
  - name: demo
    kind: demo
  - name: tf
    kind: tfserving
    model_name: diabetes-prediction
    replicas: 2
  - name: far
    kind: remote
    url: https://tf.example.com
    model_name: diabetes-prediction
    tls_skip_verify: true
  - name: flow
    kind: mlflow
    image: user/attrition-model:1.0
prometheus:
  job_name: ml_model_exporter
  scrape_interval: 5s
alerting: {engine: prometheus}
grafana: {enabled: false}
`

// TestPrometheusAcceptsConfig loads the rendered file with Prometheus' own
// configuration parser and checks the jobs the dashboards and alerts rely on.
func TestPrometheusAcceptsConfig(t *testing.T) {
	s := mustParse(t, multi)
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := promconfig.Load(string(files[ConfigFile]), nil)
	if err != nil {
		t.Fatalf("prometheus rejects the config: %v\n%s", err, files[ConfigFile])
	}
	jobs := map[string]*promconfig.ScrapeConfig{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = sc
	}
	tests := []struct {
		job, path, scheme string
		groups            int // discoverers: one for all static groups, one per dns_sd config
	}{
		{"prometheus", "/metrics", "http", 1},
		{"ml_model_exporter", "/metrics", "http", 1},
		{ModelServerJob, stack.TFServingMetricsPath, "http", 1},
		{ModelServerJob + "_tf", stack.TFServingMetricsPath, "http", 1},
		{ModelServerJob + "_far", stack.TFServingMetricsPath, "https", 1},
	}
	for _, tt := range tests {
		sc, ok := jobs[tt.job]
		if !ok {
			t.Errorf("no job %q", tt.job)
			continue
		}
		if sc.MetricsPath != tt.path || sc.Scheme != tt.scheme {
			t.Errorf("job %s: path %s scheme %s, want %s %s", tt.job, sc.MetricsPath, sc.Scheme, tt.path, tt.scheme)
		}
		if got := len(sc.ServiceDiscoveryConfigs); got != tt.groups {
			t.Errorf("job %s: %d discovery configs, want %d", tt.job, got, tt.groups)
		}
	}
	if len(cfg.AlertingConfig.AlertmanagerConfigs) != 1 {
		t.Errorf("alertmanagers = %d, want 1", len(cfg.AlertingConfig.AlertmanagerConfigs))
	}
	if rc := jobs[ModelServerJob+"_tf"].RelabelConfigs; len(rc) != 2 || rc[1].TargetLabel != "model" || rc[1].Replacement != "tf" {
		t.Errorf("replicated model server lacks the model label: %+v", rc)
	}
	if !jobs[ModelServerJob+"_far"].HTTPClientConfig.TLSConfig.InsecureSkipVerify {
		t.Error("tls_skip_verify not rendered for the remote model")
	}
}

// TestPromtoolCheckConfig runs Debian's promtool on the rendered file.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool := testtool.Path(t, "apt-get install prometheus", "promtool")
	for _, src := range []string{multi, "name: d\nmodels: [{name: demo, kind: demo}]\n"} {
		s := mustParse(t, src)
		files, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, ConfigFile)
		if err := os.MkdirAll(filepath.Join(filepath.Dir(path), "rules"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, files[ConfigFile], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check config: %v\n%s\n%s", err, out, files[ConfigFile])
		}
	}
}
