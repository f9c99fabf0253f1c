package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseChecks covers the checks that render and up would otherwise hit
// late: explicit zeros, intervals, one document per file, image references,
// derived service names, annotation templates and secrets written in the file.
func TestParseChecks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every problem, in line order; none for a valid stack
	}{
		{
			name: "valid stack (negative control)",
			src:  head + "prometheus:\n  port: 9091\n  scrape_interval: 1s\n",
		},
		{
			name: "a key without a value is not set (negative control)",
			src:  head + "prometheus:\n  port:\n  scrape_interval:\n",
		},
		{
			name: "port 0 is an error, not the default",
			src:  head + "prometheus:\n  port: 0\n",
			want: []string{"stack.yaml:6:3: prometheus.port: must be a port between 1 and 65535 (got 0); remove the line for the default 9090"},
		},
		{
			name: "every explicit zero port",
			src: `name: demo
models:
  - name: demo
    kind: demo
    port: 0
    host_port: 0
    exporter_port: 0
    replicas: 0
exporter:
  port: 0
grafana:
  port: 0
alerting:
  alertmanager_port: 0
smtp:
  web_port: 0
`,
			want: []string{
				"stack.yaml:5:5: models[0].port: must be a port between 1 and 65535 (got 0); remove the line for the kind's default",
				"stack.yaml:6:5: models[0].host_port: must be a port between 1 and 65535 (got 0); remove host_port to leave the model server unpublished",
				"stack.yaml:7:5: models[0].exporter_port: must be a port between 1 and 65535 (got 0); remove the line for the default exporter.port + the model's index",
				"stack.yaml:8:5: models[0].replicas: must be >= 1 (got 0); remove the line for the default 1",
				"stack.yaml:10:3: exporter.port: must be a port between 1 and 65535 (got 0); remove the line for the default 8000",
				"stack.yaml:12:3: grafana.port: must be a port between 1 and 65535 (got 0); remove the line for the default 3000",
				"stack.yaml:14:3: alerting.alertmanager_port: must be a port between 1 and 65535 (got 0); remove the line for the default 9093",
				"stack.yaml:16:3: smtp.web_port: must be a port between 1 and 65535 (got 0); remove the line for the default 8025",
			},
		},
		{
			name: "intervals of 0s and under 1s",
			src:  head + "prometheus:\n  scrape_interval: 0s\n  evaluation_interval: 1ms\nexporter:\n  timeout: 0s\n  body_timeout: 500ms\n  max_in_flight: 0\n  max_body: 0\n",
			want: []string{
				"stack.yaml:6:3: prometheus.scrape_interval: must be at least 1s (got 0s); remove the line for the default 5s",
				"stack.yaml:7:3: prometheus.evaluation_interval: must be at least 1s (got 1ms)",
				"stack.yaml:9:3: exporter.timeout: must be at least 1s (got 0s); remove the line for the default 10s",
				"stack.yaml:10:3: exporter.body_timeout: must be at least 1s (got 500ms)",
				"stack.yaml:11:3: exporter.max_in_flight: must be >= 1 (got 0); remove the line for the default 1024",
				"stack.yaml:12:3: exporter.max_body: must be >= 1 (got 0); remove the line for the default 10485760",
			},
		},
		{
			name: "negative max_in_flight",
			src:  head + "exporter:\n  max_in_flight: -3\n  body_timeout: 1s\n",
			want: []string{"stack.yaml:6:3: exporter.max_in_flight: must be >= 1 (got -3)"},
		},
		{
			name: "job_name of another scrape job",
			src:  head + "prometheus:\n  job_name: prometheus\n",
			want: []string{`stack.yaml:6:3: prometheus.job_name: "prometheus" is the name of another scrape job of the stack (prometheus, model_server, model_server_MODEL); pick another, e.g. ml_model_exporter`},
		},
		{
			name: "a second document",
			src:  head + "---\nname: other\n",
			want: []string{"stack.yaml:5:1: stack.yaml holds one document; remove the '---' at line 5 or split the file"},
		},
		{
			name: "a second document and a problem in the first",
			src:  head + "prometheus:\n  port: 0\n---\nname: other\n",
			want: []string{
				"stack.yaml:6:3: prometheus.port: must be a port between 1 and 65535 (got 0); remove the line for the default 9090",
				"stack.yaml:7:1: stack.yaml holds one document; remove the '---' at line 7 or split the file",
			},
		},
		{
			name: "a leading --- is one document (negative control)",
			src:  "---\n" + head,
		},
		{
			name: "image references are parsed",
			src:  "name: demo\nmodels:\n  - name: m\n    kind: custom\n    image: \"UPPER CASE:::bad\"\nprometheus:\n  image: prom/prometheus:v3.5.0\ngrafana:\n  image: Grafana/Grafana\n",
			want: []string{
				`stack.yaml:5:5: models[0].image: is not a valid image reference (invalid reference format: repository name (library/UPPER CASE) must be lowercase; got "UPPER CASE:::bad"); write e.g. ghcr.io/acme/model:1.2`,
				`stack.yaml:9:3: grafana.image: is not a valid image reference (invalid reference format: repository name (Grafana) must be lowercase; got "Grafana/Grafana"); write e.g. grafana/grafana:12.1.1`,
			},
		},
		{
			name: "model a and a-exporter render one service twice",
			src:  "name: demo\nmodels:\n  - name: a\n    kind: demo\n  - name: a-exporter\n    kind: demo\n",
			want: []string{`stack.yaml:5:5: models[1].name: service "a-exporter" would be rendered twice: the exporter of model "a" (models[0]) and model "a-exporter" (models[1]); rename one of the models`},
		},
		{
			name: "a remote model runs no server, so no clash (negative control)",
			src:  "name: demo\nmodels:\n  - name: a\n    kind: demo\n  - name: a-exporter\n    kind: remote\n    url: https://x.example.com\n",
		},
		{
			name: "model names must make DNS labels",
			src:  "name: demo\nmodels:\n  - name: " + strings.Repeat("m", 55) + "\n    kind: demo\n  - name: b-\n    kind: demo\n  - name: " + strings.Repeat("n", 54) + "\n    kind: demo\n",
			want: []string{
				`stack.yaml:3:5: models[0].name: is 55 characters; its exporter service "` + strings.Repeat("m", 55) + `-exporter" would be 64, more than the 63 a DNS label allows: use at most 54 characters`,
				`stack.yaml:5:5: models[1].name: must be lower-case letters, digits or '-', starting and ending with a letter or digit (got "b-")`,
			},
		},
		{
			name: "secrets written in stack.yaml",
			src:  head + "smtp:\n  host: smtp.example.com:587\n  password: hunter2\n  from_address: a@example.com\n  recipients: [b@example.com]\ngrafana:\n  admin_password: x\n",
			want: []string{
				`stack.yaml:7:3: smtp.password: unknown field "password"; secrets are never written in stack.yaml: export STACKGEN_SMTP_PASSWORD or set smtp.password_file (a file holding the password, relative to stack.yaml)`,
				`stack.yaml:11:3: grafana.admin_password: unknown field "admin_password"; secrets are never written in stack.yaml: export STACKGEN_GRAFANA_ADMIN_PASSWORD before 'stackgen up'`,
			},
		},
		{
			name: "an alert summary that is not a template (grafana)",
			src:  head + "alerts:\n  - name: busy\n    kind: request_rate_high\n    threshold: 5\n    summary: '{{ .Invalid'\n",
			want: []string{`stack.yaml:9:5: alerts[0].summary: is not a valid Grafana alert template (line 1: unclosed action); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name: "an unknown function in a default's summary override (prometheus)",
			src:  head + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\nalerts:\n  - name: high_cpu\n    summary: '{{ nope $value }}'\n",
			want: []string{`stack.yaml:11:5: alerts[0].summary: is not a valid Prometheus alert template (line 1: function "nope" not defined); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name: "$values is Grafana's, not Prometheus'",
			src:  head + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\nalerts:\n  - name: high_cpu\n    summary: '{{ $values.B.Value }}'\n",
			want: []string{`stack.yaml:11:5: alerts[0].summary: is not a valid Prometheus alert template (line 1: undefined variable "$values"); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name: "a field the alert data lacks (grafana)",
			src:  head + "alerts:\n  - name: high_cpu\n    summary: '{{ .Invalid }}'\n",
			want: []string{`stack.yaml:7:5: alerts[0].summary: is not a valid Grafana alert template (can't evaluate field Invalid: the alert's data has .Labels, .Values, .Value); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name: "a field the alert data lacks (prometheus)",
			src:  head + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\nalerts:\n  - name: high_cpu\n    summary: '{{ .Values }}'\n",
			want: []string{`stack.yaml:11:5: alerts[0].summary: is not a valid Prometheus alert template (can't evaluate field Values: the alert's data has .Labels, .ExternalLabels, .ExternalURL, .Value); write plain text, or e.g. {{ $labels.model }}: {{ $value }}`},
		},
		{
			name: "a label the sample lacks is not an error (negative control)",
			src:  head + "alerts:\n  - name: high_cpu\n    summary: '{{ humanize $labels.instance }} {{ with query \"up\" }}{{ . | first | value }}{{ end }}'\n",
		},
		{
			name: "Grafana's variables and functions parse (negative control)",
			src:  head + "alerts:\n  - name: high_cpu\n    summary: '{{ $values.B.Value }} {{ humanize $value }} {{ $labels.model }} {{ graphLink \"x\" }}'\n",
		},
		{
			name: "Prometheus' variables parse (negative control)",
			src:  head + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\nalerts:\n  - name: high_cpu\n    summary: '{{ $labels.model }} {{ $externalLabels.stack }} {{ humanizePercentage $value }}'\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseProblems(t, tt.src)
			want := strings.Join(tt.want, "\n")
			if got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoadFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 {
		t.Fatalf("Load(folder) = %v, want one problem", err)
	}
	want := dir + ": is a folder, not a stack file; name the file itself, e.g. -f " + filepath.Join(dir, "stack.yaml")
	if got := probs.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckSecrets(t *testing.T) {
	smtpExternal := `name: demo
models:
  - name: demo
    kind: demo
grafana:
  admin_user: root
smtp:
  host: smtp.example.com:587
  user: alerts
  from_address: a@example.com
  recipients: [b@example.com]
`
	noGrafana := head + "grafana:\n  enabled: false\nalerting:\n  engine: prometheus\n"
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{
			name: "every secret missing",
			src:  smtpExternal,
			want: []string{
				"stack.yaml:6:3: grafana.admin_user: Grafana needs an admin password: export STACKGEN_GRAFANA_ADMIN_PASSWORD (it is handed to Grafana as a file, never written to deploy/), or set grafana.enabled: false",
				`stack.yaml:9:3: smtp.user: the mail server needs a password for user "alerts": export STACKGEN_SMTP_PASSWORD, or set smtp.password_file to a file holding it`,
			},
		},
		{
			name: "every secret present (negative control)",
			src:  smtpExternal,
			env:  map[string]string{EnvSMTPPassword: "x", EnvGrafanaAdminPassword: "y"},
		},
		{
			name: "password_file instead of the variable",
			src:  smtpExternal + "  password_file: pw\n",
			env:  map[string]string{EnvGrafanaAdminPassword: "y"},
		},
		{
			name: "empty password_file",
			src:  smtpExternal + "  password_file: empty\n",
			env:  map[string]string{EnvGrafanaAdminPassword: "y"},
			want: []string{`stack.yaml:12:3: smtp.password_file: "empty" is empty or not a file; write the SMTP password into it, or unset it and export STACKGEN_SMTP_PASSWORD`},
		},
		{
			name: "grafana password located at the document when grafana is not written",
			src:  head,
			want: []string{"stack.yaml:1:1: grafana: Grafana needs an admin password: export STACKGEN_GRAFANA_ADMIN_PASSWORD (it is handed to Grafana as a file, never written to deploy/), or set grafana.enabled: false"},
		},
		{
			name: "no Grafana, local mail: nothing needed (negative control)",
			src:  noGrafana,
		},
		{
			name: "external mail without a user needs no password (negative control)",
			src:  noGrafana + "smtp:\n  host: smtp.example.com:25\n  from_address: a@example.com\n  recipients: [b@example.com]\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "stack.yaml")
			if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var probs Problems
			s, err := Parse([]byte(tt.src), file)
			if err != nil && !errors.As(err, &probs) {
				t.Fatal(err)
			}
			if s != nil {
				probs = s.CheckSecrets(func(k string) string { return tt.env[k] })
			}
			got := strings.ReplaceAll(probs.Error(), file, "stack.yaml")
			if want := strings.Join(tt.want, "\n"); got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// BenchmarkParse50Models measures Load's validation (every check, templates
// and image references included) on a 50-model stack.
func BenchmarkParse50Models(b *testing.B) {
	var src strings.Builder
	src.WriteString("name: big\nexporter:\n  port: 10000\nalerting:\n  engine: prometheus\ngrafana:\n  enabled: false\nmodels:\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&src, "  - name: m%d\n    kind: mlflow\n    image: acme/m%d:1.0\n", i, i)
	}
	src.WriteString("alerts:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&src, "  - name: a%d\n    kind: request_rate_high\n    threshold: 5\n    summary: '{{ $labels.model }} at {{ $value }}'\n", i)
	}
	data := []byte(src.String())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(data, "stack.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
