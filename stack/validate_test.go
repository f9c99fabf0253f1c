package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// parseProblems parses src as stack.yaml and returns its problems, one
// formatted line each ("" when it is valid).
func parseProblems(t *testing.T, src string) string {
	t.Helper()
	s, err := Parse([]byte(src), "stack.yaml")
	if err == nil {
		if s == nil {
			t.Fatal("Parse returned neither a stack nor problems")
		}
		return ""
	}
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Parse error %T is not Problems: %v", err, err)
	}
	if s != nil {
		t.Fatal("Parse returned a stack with problems")
	}
	return probs.Error()
}

// A valid head to build cases on: lines 1-4.
const head = `name: demo
models:
  - name: demo
    kind: demo
`

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every problem, in line order
	}{
		{
			name: "the issue's example",
			src: head + `alerts:
  - name: busy
    kind: request_rate_high
    threshold: 5
  - name: down
    kind: target_down
  - kind: latency_p95_high
    threshold: -1
    name: slow
`,
			want: []string{"stack.yaml:12:5: alerts[2].threshold: must be > 0 (got -1)"},
		},
		{
			name: "unknown top-level key with did you mean",
			src:  head + "promethues:\n  port: 9091\n",
			want: []string{`stack.yaml:5:1: promethues: unknown field "promethues"; did you mean "prometheus"?`},
		},
		{
			name: "unknown nested keys: did you mean, or the known fields",
			src:  head + "    imag: x\n    zzzzzzzz: 1\ngrafana:\n  admin_usr: root\n",
			want: []string{
				`stack.yaml:5:5: models[0].imag: unknown field "imag"; did you mean "image"?`,
				`stack.yaml:6:5: models[0].zzzzzzzz: unknown field "zzzzzzzz"; known fields here: build, drift, environment, exporter_port, health_path, host_port, image, kind, metrics_path, model_base_path, model_name, name, port, predict_path, protocol, replicas, tls_skip_verify, url`,
				`stack.yaml:8:3: grafana.admin_usr: unknown field "admin_usr"; did you mean "admin_user"?`,
			},
		},
		{
			name: "unknown key in an alert",
			src:  head + "alerts:\n  - name: high_cpu\n    treshold: 0.5\n",
			want: []string{`stack.yaml:7:5: alerts[0].treshold: unknown field "treshold"; did you mean "threshold"?`},
		},
		{
			name: "type errors are all listed and located",
			src: `name: demo
models:
  - name: m
    kind: mlflow
    image: m:1
    port: abc
    replicas: [1]
exporter:
  timeout: 5x
  buckets: [0.1, x]
grafana:
  enabled: yes please
`,
			want: []string{
				`stack.yaml:6:5: models[0].port: must be an integer (got "abc")`,
				`stack.yaml:7:5: models[0].replicas: must be an integer (got a list)`,
				`stack.yaml:9:3: exporter.timeout: "5x" is not a duration (write e.g. 30s, 5m, 1h)`,
				`stack.yaml:10:3: exporter.buckets: must be a number (got "x")`,
				`stack.yaml:12:3: grafana.enabled: must be true or false (got "yes please")`,
			},
		},
		{
			name: "wrong shapes",
			src:  "name: x\nmodels: {a: 1}\nalerts: 3\nsmtp: x\n",
			want: []string{
				"stack.yaml:2:1: models: must be a list (got a mapping)",
				"stack.yaml:3:1: alerts: must be a list (got 3)",
				`stack.yaml:4:1: smtp: must be a mapping (got "x")`,
			},
		},
		{
			name: "port clash between two set ports",
			src:  head + "prometheus:\n  port: 3001\ngrafana:\n  port: 3001\n",
			want: []string{"stack.yaml:8:3: grafana.port: host port 3001 is already used by prometheus.port; pick another port"},
		},
		{
			name: "port clash with a default is reported where the user wrote the port",
			src:  head + "    host_port: 8000\ngrafana:\n  port: 9090\n",
			want: []string{
				"stack.yaml:5:5: models[0].host_port: host port 8000 is already used by exporter.port (by default); pick another port",
				"stack.yaml:7:3: grafana.port: host port 9090 is already used by prometheus.port (by default); pick another port",
			},
		},
		{
			name: "port clash between exporter ports of two models",
			src:  head + "    exporter_port: 8100\n  - name: b\n    kind: demo\n    exporter_port: 8100\n",
			want: []string{"stack.yaml:8:5: models[1].exporter_port: host port 8100 is already used by models[0].exporter_port; pick another port"},
		},
		{
			name: "tfserving without model_name",
			src:  "name: x\nmodels:\n  - name: tf\n    kind: tfserving\n    model_base_path: ./models/tf\n",
			want: []string{"stack.yaml:3:5: models[0].model_name: kind tfserving needs model_name: (the model's name under /v1/models/NAME)"},
		},
		{
			name: "remote without url, with a bad url, with a url that is no URL",
			src: `name: x
models:
  - name: r
    kind: remote
  - name: r2
    kind: remote
    url: ftp://x
  - name: r3
    kind: remote
    url: "not a url"
  - name: r4
    kind: remote
    url: https://
`,
			want: []string{
				"stack.yaml:3:5: models[0].url: kind remote needs url: (e.g. https://model.example.com)",
				`stack.yaml:7:5: models[1].url: must be an http:// or https:// URL with a host (got "ftp://x")`,
				`stack.yaml:10:5: models[2].url: must be an http:// or https:// URL with a host (got "not a url")`,
				`stack.yaml:13:5: models[3].url: must be an http:// or https:// URL with a host (got "https://")`,
			},
		},
		{
			name: "url on a kind that runs its own server",
			src:  head + "    url: http://x\n",
			want: []string{"stack.yaml:5:5: models[0].url: only kind remote takes url:"},
		},
		{
			name: "TF Serving metrics on an mlflow-only stack",
			src: `name: x
models:
  - name: m
    kind: mlflow
    image: m:1
alerts:
  - name: tf_slow
    kind: latency_p99_high
    source: model_server
    threshold: 1
  - name: tf_requests
    kind: custom
    expr: rate(:tensorflow:serving:request_count[5m]) > 1
  - name: tf_by_name
    kind: custom
    expr: 'rate({__name__=":tensorflow:serving:request_latency_count"}[5m]) > 1'
`,
			want: []string{
				"stack.yaml:9:5: alerts[0].source: model_server alerts use TF Serving metrics (:tensorflow:serving:*), which no model in scope exports (kinds tfserving and demo do); use source: exporter",
				"stack.yaml:13:5: alerts[1].expr: uses :tensorflow:serving:request_count, a TF Serving metric that no model in scope exports (kinds tfserving and demo do)",
				"stack.yaml:16:5: alerts[2].expr: uses :tensorflow:serving:request_latency_count, a TF Serving metric that no model in scope exports (kinds tfserving and demo do)",
			},
		},
		{
			name: "TF Serving alert scoped to the mlflow model of a mixed stack",
			src: `name: x
models:
  - name: m
    kind: mlflow
    image: m:1
  - name: tf
    kind: tfserving
    model_name: tf
alerts:
  - name: tf_slow
    kind: latency_p99_high
    source: model_server
    threshold: 1
    model: m
`,
			want: []string{"stack.yaml:12:5: alerts[0].source: model_server alerts use TF Serving metrics (:tensorflow:serving:*), which no model in scope exports (kinds tfserving and demo do); use source: exporter"},
		},
		{
			name: "bad custom PromQL and a custom alert without expr",
			src:  head + "alerts:\n  - name: bad\n    kind: custom\n    expr: sum(rate(x[5m]) >\n  - name: empty\n    kind: custom\n",
			want: []string{
				"stack.yaml:8:5: alerts[0].expr: is not valid PromQL: 1:18: parse error: unclosed left parenthesis",
				"stack.yaml:9:5: alerts[1].expr: is required for kind custom: a PromQL condition, e.g. sum(rate(http_requests_total[5m])) > 10",
			},
		},
		{
			name: "expr on a built-in kind",
			src:  head + "alerts:\n  - name: high_cpu\n    expr: up == 0\n",
			want: []string{"stack.yaml:7:5: alerts[0].expr: only kind custom takes expr"},
		},
		{
			name: "bad starttls policy",
			src:  head + "smtp:\n  starttls_policy: Mandatory\n",
			want: []string{`stack.yaml:6:3: smtp.starttls_policy: must be one of OpportunisticStartTLS, MandatoryStartTLS, NoStartTLS (got "Mandatory")`},
		},
		{
			name: "external smtp without host, sender or recipients",
			src:  head + "smtp:\n  mode: external\n  user: me\n",
			want: []string{
				"stack.yaml:5:1: smtp.host: is required for smtp.mode external: host:port, e.g. smtp.gmail.com:587 (or use smtp.mode: local for the built-in mail catcher)",
				"stack.yaml:5:1: smtp.from_address: is required: the sender address of alert emails",
				"stack.yaml:5:1: smtp.recipients: at least one recipient is required for alert emails",
			},
		},
		{
			name: "external smtp with a host without port and bad addresses",
			src:  head + "smtp:\n  host: smtp.example.com\n  from_address: not-an-address\n  recipients: [ops@example.com, nobody]\n  password_file: missing.txt\n",
			want: []string{
				`stack.yaml:6:3: smtp.host: must be host:port, e.g. smtp.gmail.com:587 (got "smtp.example.com")`,
				`stack.yaml:7:3: smtp.from_address: is not an email address (got "not-an-address")`,
				`stack.yaml:8:33: smtp.recipients[1]: is not an email address (got "nobody")`,
				`stack.yaml:9:3: smtp.password_file: file "missing.txt" does not exist (relative to stack.yaml); or unset it and export STACKGEN_SMTP_PASSWORD`,
			},
		},
		{
			name: "grafana engine (the default) with grafana disabled",
			src:  head + "grafana:\n  enabled: false\n",
			want: []string{"stack.yaml:6:3: grafana.enabled: false leaves the default alerting engine (grafana) without Grafana; set alerting.engine: prometheus to alert without Grafana"},
		},
		{
			name: "grafana engine set explicitly with grafana disabled",
			src:  head + "grafana:\n  enabled: false\nalerting:\n  engine: grafana\n",
			want: []string{"stack.yaml:8:3: alerting.engine: grafana needs grafana.enabled: true; set alerting.engine: prometheus to alert without Grafana"},
		},
		{
			name: "enum typos get a did you mean",
			src:  "name: x\nmodels:\n  - name: a\n    kind: Demo\nalerting:\n  engine: promethus\nalerts:\n  - name: b\n    kind: request_rate_hihg\n    severity: critcal\n",
			want: []string{
				`stack.yaml:4:5: models[0].kind: must be one of demo, mlflow, tfserving, custom, remote (got "Demo"); did you mean "demo"?`,
				`stack.yaml:6:3: alerting.engine: must be one of grafana, prometheus (got "promethus"); did you mean "prometheus"?`,
				`stack.yaml:9:5: alerts[0].kind: must be one of confidence_drop, cpu_high, custom, error_ratio_high, feature_drift, latency_p95_high, latency_p99_high, low_traffic, memory_high, prediction_drift, request_rate_high, target_down, traffic_spike (got "request_rate_hihg"); did you mean "request_rate_high"?`,
			},
		},
		{
			name: "alert checks",
			src: head + `alerts:
  - name: high_error_ratio
    threshold: 5
  - name: spike
    kind: traffic_spike
    factor: 1
  - name: fast
    kind: request_rate_high
    threshold: 1
    window: 5s
  - name: high_cpu
  - name: high_cpu
  - name: bad-name
    kind: target_down
  - name: lat
    kind: latency_p95_high
  - name: nobody
    kind: target_down
    model: ghost
  - name: high_latncy_p95
    threshold: 1
`,
			want: []string{
				"stack.yaml:7:5: alerts[0].threshold: is a ratio between 0 and 1, e.g. 0.05 for 5% (got 5)",
				"stack.yaml:10:5: alerts[1].factor: must be > 1, e.g. 3 for rate[1m] > 3 × rate[15m] (got 1)",
				"stack.yaml:14:5: alerts[2].window: must be at least twice prometheus.scrape_interval (5s) so rate() has two samples (got 5s)",
				`stack.yaml:16:5: alerts[4].name: "high_cpu" is used by another alert; alert names must be unique`,
				`stack.yaml:17:5: alerts[5].name: must be letters, digits and '_' (got "bad-name")`,
				"stack.yaml:19:5: alerts[6].threshold: is required for kind latency_p95_high (in s)",
				`stack.yaml:23:5: alerts[7].model: no model is named "ghost" (models: demo)`,
				`stack.yaml:24:5: alerts[8].kind: is required: one of confidence_drop, cpu_high, custom, error_ratio_high, feature_drift, latency_p95_high, latency_p99_high, low_traffic, memory_high, prediction_drift, request_rate_high, target_down, traffic_spike (or did you mean the default alert "high_latency_p95"?)`,
			},
		},
		{
			name: "model checks",
			src: `name: x
models:
  - name: a
    kind: demo
  - name: a
    kind: demo
  - name: grafana
    kind: demo
  - kind: demo
  - name: Big
    kind: custom
  - name: p
    kind: demo
    replicas: 2
    host_port: 8080
    predict_path: predict
    environment:
      BAD-KEY: 1
    port: 70000
    build: nowhere
`,
			want: []string{
				`stack.yaml:5:5: models[1].name: "a" is used by another model; model names must be unique`,
				`stack.yaml:7:5: models[2].name: "grafana" is the name of a stack service; pick another model name`,
				"stack.yaml:9:5: models[3].name: is required",
				`stack.yaml:10:5: models[4].name: must be lower-case letters, digits or '-', starting and ending with a letter or digit (got "Big")`,
				"stack.yaml:10:5: models[4]: kind custom needs image: (e.g. the image from 'mlflow models build-docker') or build: (a folder with a Dockerfile)",
				"stack.yaml:15:5: models[5].host_port: cannot publish one host port for 2 replicas; remove host_port (the exporter is the entry point)",
				`stack.yaml:16:5: models[5].predict_path: must start with / (got "predict")`,
				"stack.yaml:18:7: models[5].environment.BAD-KEY: is not a valid environment variable name",
				"stack.yaml:19:5: models[5].port: must be a port between 1 and 65535 (got 70000)",
				"stack.yaml:20:5: models[5].build: kind demo runs stackgen's own demo model; remove image/build or use kind custom",
				`stack.yaml:20:5: models[5].build: folder "nowhere" does not exist (relative to stack.yaml)`,
			},
		},
		{
			name: "missing name and models are reported at the start of the file",
			src:  "bind_address: localhost\n",
			want: []string{
				"stack.yaml:1:1: name: is required: a short lower-case name for the stack, e.g. name: demo",
				`stack.yaml:1:1: bind_address: must be an IP address such as 127.0.0.1 or 0.0.0.0 (got "localhost")`,
				"stack.yaml:1:1: models: at least one model is required, e.g. models: [{name: demo, kind: demo}]",
			},
		},
		{
			name: "bad stack name and empty models",
			src:  "name: Demo!\nmodels: []\n",
			want: []string{
				`stack.yaml:1:1: name: must be lower-case letters, digits, '-' or '_', starting with a letter or digit (got "Demo!")`,
				"stack.yaml:2:1: models: at least one model is required, e.g. models: [{name: demo, kind: demo}]",
			},
		},
		{
			name: "prometheus and exporter checks",
			src:  head + "exporter:\n  buckets: [0.5, 0.1, -1]\n  max_body: -1\nprometheus:\n  retention: forever\n  job_name: 'my job'\n",
			want: []string{
				"stack.yaml:6:18: exporter.buckets[1]: buckets must be ascending (0.1 after 0.5)",
				"stack.yaml:6:23: exporter.buckets[2]: must be > 0 (got -1)",
				"stack.yaml:7:3: exporter.max_body: must be > 0 bytes (got -1)",
				`stack.yaml:9:3: prometheus.retention: must be a duration such as 15d or 12h (got "forever")`,
				`stack.yaml:10:3: prometheus.job_name: must be letters, digits, '_' or '-' (got "my job")`,
			},
		},
		{
			name: "many problems of every sort, listed together in line order",
			src: `name: demo
models:
  - name: tf
    kind: tfserving
    prot: 8501
  - name: r
    kind: remote
smtp:
  mode: external
  starttls_policy: always
grafana:
  port: 9090
alerts:
  - name: slow
    kind: latency_p95_high
    threshold: -1
`,
			want: []string{
				"stack.yaml:3:5: models[0].model_name: kind tfserving needs model_name: (the model's name under /v1/models/NAME)",
				`stack.yaml:5:5: models[0].prot: unknown field "prot"; did you mean "port"?`,
				"stack.yaml:6:5: models[1].url: kind remote needs url: (e.g. https://model.example.com)",
				"stack.yaml:8:1: smtp.host: is required for smtp.mode external: host:port, e.g. smtp.gmail.com:587 (or use smtp.mode: local for the built-in mail catcher)",
				"stack.yaml:8:1: smtp.from_address: is required: the sender address of alert emails",
				"stack.yaml:8:1: smtp.recipients: at least one recipient is required for alert emails",
				`stack.yaml:10:3: smtp.starttls_policy: must be one of OpportunisticStartTLS, MandatoryStartTLS, NoStartTLS (got "always")`,
				"stack.yaml:12:3: grafana.port: host port 9090 is already used by prometheus.port (by default); pick another port",
				"stack.yaml:16:5: alerts[0].threshold: must be > 0 (got -1)",
			},
		},
		{
			name: "invalid YAML",
			src:  "name: [demo\n",
			want: []string{"stack.yaml:1:1: invalid YAML: did not find expected ',' or ']'"},
		},
		{
			name: "tab indentation",
			src:  "name: demo\nmodels:\n\t- name: demo\n",
			want: []string{"stack.yaml:3:1: invalid YAML: found character that cannot start any token"},
		},
		{
			name: "duplicate keys are reported, and the rest is still checked",
			src:  head + "    kind: mlflow\nname: again\ngrafana:\n  port: 9090\n",
			want: []string{
				"stack.yaml:5:5: models[0].kind: is already set at line 4; remove one of them",
				"stack.yaml:6:1: name: is already set at line 1; remove one of them",
				"stack.yaml:8:3: grafana.port: host port 9090 is already used by prometheus.port (by default); pick another port",
			},
		},
		{
			name: "empty file",
			src:  "",
			want: []string{"stack.yaml: the file is empty; write at least name: and models: (run 'stackgen init' for a starter)"},
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n",
			want: []string{"stack.yaml:1:1: stack.yaml must be a mapping with at least name: and models: (run 'stackgen init' for a starter)"},
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

func TestParseValid(t *testing.T) {
	tests := map[string]string{
		"minimal demo": head,
		"mlflow, prometheus engine without grafana": `name: shop
models:
  - name: m
    kind: mlflow
    image: m:1
grafana:
  enabled: false
alerting:
  engine: prometheus
`,
		"remote https tfserving with model_server alerts": `name: remote
models:
  - name: diabetes
    kind: remote
    url: https://diabetes.example.com
    model_name: diabetes-prediction
alerts:
  - name: tf_low_traffic
    threshold: 0.5
  - name: tf_requests
    kind: custom
    source: model_server
    expr: sum(rate(:tensorflow:serving:request_count[5m])) > 100
`,
		"custom built from a folder":                     "name: c\nmodels:\n  - name: c\n    kind: custom\n    build: .\n",
		"external smtp":                                  head + "smtp:\n  host: smtp.example.com:587\n  user: me\n  from_address: Alerts <alerts@example.com>\n  recipients: [ops@example.com]\n  starttls_policy: MandatoryStartTLS\n",
		"anchors and aliases":                            "name: a\nmodels:\n  - &m {name: a, kind: demo}\n  - {<<: *m, name: b}\n",
		"mlflow-only stack keeps the TF defaults silent": "name: x\nmodels:\n  - name: m\n    kind: mlflow\n    image: m:1\nalerts:\n  - name: tf_high_latency_p99\n    threshold: 2\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseProblems(t, src); got != "" {
				t.Errorf("unexpected problems:\n%s", got)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(head+"grafana:\n  port: 9090\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 {
		t.Fatalf("Load: %v; want one problem", err)
	}
	if p := probs[0]; p.File != path || p.Line != 6 || p.Column != 3 || p.Field != "grafana.port" {
		t.Errorf("problem = %+v", p)
	}

	if err := os.WriteFile(path, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != path || s.Dir() != dir || s.DefaultDeployDir() != filepath.Join(dir, "deploy") {
		t.Errorf("File %q, Dir %q, DefaultDeployDir %q", s.File, s.Dir(), s.DefaultDeployDir())
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &probs) {
		t.Errorf("Load of a missing file: %v; want a wrapped not-exist error, not Problems", err)
	}
}

// TestValidateWithoutPositions checks Stack.Validate on a stack built in
// Go: the same problems, without lines.
func TestValidateWithoutPositions(t *testing.T) {
	s := &Stack{Name: "x", Models: []Model{{Name: "tf", Kind: KindTFServing}}}
	f := false
	s.Grafana.Enabled = &f
	s.ApplyDefaults()
	got := s.Validate()
	want := []string{
		"models[0].model_name: kind tfserving needs model_name: (the model's name under /v1/models/NAME)",
		"alerting.engine: grafana needs grafana.enabled: true; set alerting.engine: prometheus to alert without Grafana",
	}
	if len(got) != len(want) {
		t.Fatalf("Validate() = %v", got)
	}
	for i, p := range got {
		if p.Line != 0 || p.Field+": "+p.Message != want[i] {
			t.Errorf("problem %d = %+v, want %q without a line", i, p, want[i])
		}
	}
	if s := got[0].String(); s != ": "+want[0] {
		t.Errorf("String() without file and line = %q", s)
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{File: "s.yaml", Line: 3, Column: 7, Field: "models[0].kind", Message: "is required"}
	if got := p.String(); got != "s.yaml:3:7: models[0].kind: is required" {
		t.Errorf("String() = %q", got)
	}
	p.Field = ""
	if got := p.String(); got != "s.yaml:3:7: is required" {
		t.Errorf("String() without field = %q", got)
	}
	ps := Problems{p, {File: "s.yaml", Message: "b"}}
	if got := ps.Error(); got != "s.yaml:3:7: is required\ns.yaml: b" {
		t.Errorf("Error() = %q", got)
	}
}
