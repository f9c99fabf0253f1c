package stack

import (
	"time"
)

// Default values applied to fields left empty in stack.yaml.
const (
	DefaultBindAddress       = "127.0.0.1"
	DefaultStackgenImage     = "stackgen:local"
	DefaultTFServingImage    = "tensorflow/serving:2.14.1"
	DefaultPrometheusImage   = "prom/prometheus:v3.5.0"
	DefaultGrafanaImage      = "grafana/grafana:12.1.1"
	DefaultAlertmanagerImage = "prom/alertmanager:v0.28.1"
	DefaultJobName           = "ml_model_exporter"
	DefaultExporterPort      = 8000
	DefaultPrometheusPort    = 9090
	DefaultGrafanaPort       = 3000
	DefaultAlertmanagerPort  = 9093
	DefaultMailWebPort       = 8025
	DefaultRetention         = "15d"
	DefaultAdminUser         = "admin"
	DefaultMaxBody           = 10 << 20
	DefaultMaxInFlight       = 1024
	DefaultBodyTimeout       = 30 * time.Second
	DefaultTimeout           = 10 * time.Second
	DefaultScrapeInterval    = 5 * time.Second
	DefaultEvalInterval      = 15 * time.Second
	// GrafanaDatasourceUID is the fixed uid of the provisioned Prometheus data
	// source; dashboards and Grafana alert rules refer to it.
	GrafanaDatasourceUID = "stackgen-prometheus"
	// TFServingMetricsPath is where TF Serving (and the demo model) expose Prometheus metrics.
	TFServingMetricsPath = "/monitoring/prometheus/metrics"
)

// Container-side ports of the services stackgen renders.
const (
	ExporterContainerPort     = 8000
	DemoContainerPort         = 8080
	PrometheusContainerPort   = 9090
	GrafanaContainerPort      = 3000
	AlertmanagerContainerPort = 9093
	MailSMTPContainerPort     = 1025
	MailWebContainerPort      = 8025
)

// DefaultBuckets are the exporter's latency buckets in seconds.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// ApplyDefaults fills every empty field with its default. It is idempotent.
func (s *Stack) ApplyDefaults() {
	if s.BindAddress == "" {
		s.BindAddress = DefaultBindAddress
	}
	if s.StackgenImage == "" {
		s.StackgenImage = DefaultStackgenImage
	}
	s.applyKubernetesDefaults()
	e := &s.Exporter
	if e.Port == 0 {
		e.Port = DefaultExporterPort
	}
	if len(e.Buckets) == 0 {
		e.Buckets = append([]float64(nil), DefaultBuckets...)
	}
	if e.Timeout == 0 {
		e.Timeout = Duration(DefaultTimeout)
	}
	if e.MaxBody == 0 {
		e.MaxBody = DefaultMaxBody
	}
	if e.BodyTimeout == 0 {
		e.BodyTimeout = Duration(DefaultBodyTimeout)
	}
	if e.MaxInFlight == 0 {
		e.MaxInFlight = DefaultMaxInFlight
	}
	for i := range s.Models {
		s.Models[i].applyDefaults(e.Port + i)
	}
	p := &s.Prometheus
	if p.Image == "" {
		p.Image = DefaultPrometheusImage
	}
	if p.Port == 0 {
		p.Port = DefaultPrometheusPort
	}
	if p.ScrapeInterval == 0 {
		p.ScrapeInterval = Duration(DefaultScrapeInterval)
	}
	if p.EvaluationInterval == 0 {
		p.EvaluationInterval = Duration(DefaultEvalInterval)
	}
	if p.Retention == "" {
		p.Retention = DefaultRetention
	}
	if p.JobName == "" {
		p.JobName = DefaultJobName
	}
	g := &s.Grafana
	if g.Enabled == nil {
		t := true
		g.Enabled = &t
	}
	if g.Image == "" {
		g.Image = DefaultGrafanaImage
	}
	if g.Port == 0 {
		g.Port = DefaultGrafanaPort
	}
	if g.AdminUser == "" {
		g.AdminUser = DefaultAdminUser
	}
	a := &s.Alerting
	if a.Engine == "" {
		a.Engine = EngineGrafana
	}
	if a.Defaults == nil {
		t := true
		a.Defaults = &t
	}
	if a.AlertmanagerImage == "" {
		a.AlertmanagerImage = DefaultAlertmanagerImage
	}
	if a.AlertmanagerPort == 0 {
		a.AlertmanagerPort = DefaultAlertmanagerPort
	}
	m := &s.SMTP
	if m.Mode == "" {
		if m.Host != "" {
			m.Mode = SMTPModeExternal
		} else {
			m.Mode = SMTPModeLocal
		}
	}
	if m.Mode == SMTPModeLocal {
		if m.FromAddress == "" {
			m.FromAddress = "alerts@stackgen.local"
		}
		if len(m.Recipients) == 0 {
			m.Recipients = []string{"oncall@stackgen.local"}
		}
		if m.StartTLSPolicy == "" {
			m.StartTLSPolicy = "NoStartTLS"
		}
	}
	if m.FromName == "" {
		m.FromName = "stackgen alerts"
	}
	if m.StartTLSPolicy == "" {
		m.StartTLSPolicy = "OpportunisticStartTLS"
	}
	if m.WebPort == 0 {
		m.WebPort = DefaultMailWebPort
	}
}

func (m *Model) applyDefaults(exporterPort int) {
	if m.Replicas == 0 {
		m.Replicas = 1
	}
	if m.ExporterPort == 0 {
		m.ExporterPort = exporterPort
	}
	if m.Drift != nil {
		m.Drift.applyDefaults()
	}
	if m.Protocol == "" {
		switch m.Kind {
		case KindDemo, KindMLflow:
			m.Protocol = ProtocolMLflow
		case KindTFServing:
			m.Protocol = ProtocolTFServing
		case KindCustom:
			m.Protocol = ProtocolCustom
		case KindRemote:
			if m.ModelName != "" {
				m.Protocol = ProtocolTFServing
			} else {
				m.Protocol = ProtocolMLflow
			}
		}
	}
	switch m.Kind {
	case KindDemo:
		if m.Port == 0 {
			m.Port = DemoContainerPort
		}
		if m.ModelName == "" {
			m.ModelName = m.Name
		}
		if m.MetricsPath == "" {
			m.MetricsPath = TFServingMetricsPath
		}
	case KindMLflow, KindCustom:
		if m.Port == 0 {
			m.Port = 8080
		}
	case KindTFServing:
		if m.Port == 0 {
			m.Port = 8501
		}
		if m.Image == "" {
			m.Image = DefaultTFServingImage
		}
		if m.MetricsPath == "" {
			m.MetricsPath = TFServingMetricsPath
		}
	}
	if m.Kind == KindRemote && m.Protocol == ProtocolTFServing && m.MetricsPath == "" {
		m.MetricsPath = TFServingMetricsPath
	}
	switch m.Protocol {
	case ProtocolMLflow:
		if m.PredictPath == "" {
			m.PredictPath = "/invocations"
		}
		if m.HealthPath == "" {
			m.HealthPath = "/ping"
		}
	case ProtocolTFServing:
		if m.PredictPath == "" && m.ModelName != "" {
			m.PredictPath = "/v1/models/" + m.ModelName + ":predict"
		}
		if m.HealthPath == "" && m.ModelName != "" {
			m.HealthPath = "/v1/models/" + m.ModelName
		}
	case ProtocolCustom:
		if m.PredictPath == "" {
			m.PredictPath = "/predict"
		}
		if m.HealthPath == "" {
			m.HealthPath = "/"
		}
	}
}
