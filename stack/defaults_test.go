package stack

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Stack {
	t.Helper()
	s, err := Parse([]byte(src), "stack.yaml")
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return s
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, `name: d
models:
  - name: demo
    kind: demo
  - name: ml
    kind: mlflow
    image: ml:1
  - name: tf
    kind: tfserving
    model_name: half
  - name: cu
    kind: custom
    image: cu:1
    exporter_port: 8100
  - name: rm
    kind: remote
    url: https://m.example.com
    model_name: diabetes
  - name: rm2
    kind: remote
    url: http://m2.example.com
`)
	if s.BindAddress != "127.0.0.1" || s.StackgenImage != DefaultStackgenImage {
		t.Errorf("bind_address %q, stackgen_image %q", s.BindAddress, s.StackgenImage)
	}
	e := s.Exporter
	if e.Port != 8000 || !slices.Equal(e.Buckets, DefaultBuckets) || e.Timeout.D() != 10*time.Second || e.MaxBody != 10<<20 {
		t.Errorf("exporter = %+v", e)
	}
	p := s.Prometheus
	if p.Image != DefaultPrometheusImage || p.Port != 9090 || p.ScrapeInterval.D() != 5*time.Second ||
		p.EvaluationInterval.D() != 15*time.Second || p.Retention != "15d" || p.JobName != "ml_model_exporter" {
		t.Errorf("prometheus = %+v", p)
	}
	g := s.Grafana
	if !g.IsEnabled() || g.Image != DefaultGrafanaImage || g.Port != 3000 || g.AdminUser != "admin" {
		t.Errorf("grafana = %+v", g)
	}
	a := s.Alerting
	if a.Engine != EngineGrafana || !a.DefaultsEnabled() || a.AlertmanagerImage != DefaultAlertmanagerImage || a.AlertmanagerPort != 9093 {
		t.Errorf("alerting = %+v", a)
	}
	m := s.SMTP
	if m.Mode != SMTPModeLocal || m.FromAddress != "alerts@stackgen.local" || !slices.Equal(m.Recipients, []string{"oncall@stackgen.local"}) ||
		m.StartTLSPolicy != "NoStartTLS" || m.FromName != "stackgen alerts" || m.WebPort != 8025 {
		t.Errorf("smtp = %+v", m)
	}

	type want struct {
		protocol, predict, health, metrics, image string
		port, exporterPort                        int
	}
	wants := map[string]want{
		"demo": {ProtocolMLflow, "/invocations", "/ping", TFServingMetricsPath, "", 8080, 8000},
		"ml":   {ProtocolMLflow, "/invocations", "/ping", "", "ml:1", 8080, 8001},
		"tf":   {ProtocolTFServing, "/v1/models/half:predict", "/v1/models/half", TFServingMetricsPath, DefaultTFServingImage, 8501, 8002},
		"cu":   {ProtocolCustom, "/predict", "/", "", "cu:1", 8080, 8100},
		"rm":   {ProtocolTFServing, "/v1/models/diabetes:predict", "/v1/models/diabetes", TFServingMetricsPath, "", 0, 8004},
		"rm2":  {ProtocolMLflow, "/invocations", "/ping", "", "", 0, 8005},
	}
	for _, md := range s.Models {
		w := wants[md.Name]
		got := want{md.Protocol, md.PredictPath, md.HealthPath, md.MetricsPath, md.Image, md.Port, md.ExporterPort}
		if got != w {
			t.Errorf("model %s: got %+v, want %+v", md.Name, got, w)
		}
		if md.Replicas != 1 {
			t.Errorf("model %s: replicas %d", md.Name, md.Replicas)
		}
	}
	if d := s.Model("demo"); d.ModelName != "demo" || !d.ExportsTFServingMetrics() {
		t.Errorf("demo model: model_name %q, exports TF metrics %v", d.ModelName, d.ExportsTFServingMetrics())
	}
	if s.Model("rm2").ExportsTFServingMetrics() || !s.Model("rm").ExportsTFServingMetrics() || s.Model("ml").ExportsTFServingMetrics() {
		t.Error("ExportsTFServingMetrics wrong for remote/mlflow models")
	}
	if s.Model("nope") != nil {
		t.Error("Model of an unknown name is not nil")
	}
}

func TestDefaultsKeepSetValues(t *testing.T) {
	s := mustParse(t, `name: d
bind_address: 0.0.0.0
models:
  - name: m
    kind: mlflow
    image: m:1
    port: 5005
    replicas: 3
    health_path: /health
exporter:
  port: 9100
  buckets: [0.1, 1]
  timeout: 30s
prometheus:
  scrape_interval: 15s
  retention: 30d
grafana:
  enabled: false
alerting:
  engine: prometheus
  defaults: false
smtp:
  host: smtp.example.com:587
  from_address: a@example.com
  recipients: [b@example.com]
`)
	m := s.Models[0]
	if m.Port != 5005 || m.Replicas != 3 || m.HealthPath != "/health" || m.PredictPath != "/invocations" || m.ExporterPort != 9100 {
		t.Errorf("model = %+v", m)
	}
	if s.Exporter.Timeout.D() != 30*time.Second || !slices.Equal(s.Exporter.Buckets, []float64{0.1, 1}) {
		t.Errorf("exporter = %+v", s.Exporter)
	}
	if s.Prometheus.ScrapeInterval.D() != 15*time.Second || s.Prometheus.Retention != "30d" {
		t.Errorf("prometheus = %+v", s.Prometheus)
	}
	if s.Grafana.IsEnabled() || s.Alerting.DefaultsEnabled() || !s.AlertmanagerEnabled() {
		t.Error("grafana.enabled, alerting.defaults or engine not kept")
	}
	// A host without a mode means a real mail server.
	if s.SMTP.Mode != SMTPModeExternal || s.SMTP.StartTLSPolicy != "OpportunisticStartTLS" || s.MailCatcherEnabled() {
		t.Errorf("smtp = %+v", s.SMTP)
	}
	if got := s.HostURL(9090); got != "http://127.0.0.1:9090" {
		t.Errorf("HostURL on 0.0.0.0 = %q", got)
	}
}

func TestApplyDefaultsIdempotent(t *testing.T) {
	s := mustParse(t, head+"  - name: tf\n    kind: tfserving\n    model_name: tf\n")
	before := *s
	before.Models = slices.Clone(s.Models)
	s.ApplyDefaults()
	if !reflect.DeepEqual(before, *s) {
		t.Errorf("second ApplyDefaults changed the stack:\n%+v\n%+v", before, *s)
	}
	// The default buckets are copied, not shared.
	s.Exporter.Buckets[0] = 99
	if DefaultBuckets[0] == 99 {
		t.Fatal("ApplyDefaults shares DefaultBuckets")
	}
}

func TestDuration(t *testing.T) {
	s := mustParse(t, head+"prometheus:\n  retention: 2d\n  scrape_interval: 1m30s\n")
	if got := s.Prometheus.ScrapeInterval.String(); got != "1m30s" {
		t.Errorf("String() = %q", got)
	}
	if v, err := s.Prometheus.ScrapeInterval.MarshalYAML(); err != nil || v != "1m30s" {
		t.Errorf("MarshalYAML() = %v, %v", v, err)
	}
	if b, err := s.Prometheus.ScrapeInterval.MarshalText(); err != nil || string(b) != "1m30s" {
		t.Errorf("MarshalText() = %s, %v", b, err)
	}
	if !Duration(0).IsZero() || Duration(1).IsZero() {
		t.Error("IsZero")
	}
}
