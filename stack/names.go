package stack

import (
	"net"
	"path/filepath"
	"strconv"
)

// ServiceName is the compose service of the model server.
func (m Model) ServiceName() string { return m.Name }

// ExporterService is the compose service of the model's exporter proxy.
func (m Model) ExporterService() string { return m.Name + "-exporter" }

// HasServer reports whether the stack runs the model server itself (every kind but remote).
func (m Model) HasServer() bool { return m.Kind != KindRemote }

// UpstreamURL is the model server's base URL as seen from inside the stack's network.
func (m Model) UpstreamURL() string {
	if m.Kind == KindRemote {
		return m.URL
	}
	return "http://" + m.ServiceName() + ":" + strconv.Itoa(m.Port)
}

// ExportsTFServingMetrics reports whether the model server exposes TF Serving's
// :tensorflow:serving:* metrics (tfserving and demo, or a remote TF Serving with a metrics path).
func (m Model) ExportsTFServingMetrics() bool {
	switch m.Kind {
	case KindTFServing, KindDemo:
		return true
	case KindRemote:
		return m.Protocol == ProtocolTFServing && m.MetricsPath != ""
	}
	return false
}

// Model returns the model with the given name, or nil.
func (s *Stack) Model(name string) *Model {
	for i := range s.Models {
		if s.Models[i].Name == name {
			return &s.Models[i]
		}
	}
	return nil
}

// Dir is the folder holding stack.yaml ("." when loaded from bytes).
func (s *Stack) Dir() string {
	if s.File == "" {
		return "."
	}
	return filepath.Dir(s.File)
}

// DefaultDeployDir is where render writes when -o is not given: deploy/ beside stack.yaml.
func (s *Stack) DefaultDeployDir() string { return filepath.Join(s.Dir(), "deploy") }

// HostAddress is the address to reach published ports from the host: the
// bind address, or 127.0.0.1 when it binds every interface.
func (s *Stack) HostAddress() string {
	ip := net.ParseIP(s.BindAddress)
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return s.BindAddress
}

// HostURL is http://HOST:PORT for a published port.
func (s *Stack) HostURL(port int) string {
	return "http://" + net.JoinHostPort(s.HostAddress(), strconv.Itoa(port))
}

// PredictURL is the host URL of a model's exporter /predict endpoint.
func (s *Stack) PredictURL(m Model) string { return s.HostURL(m.ExporterPort) + "/predict" }

// PrometheusURL is the host URL of Prometheus.
func (s *Stack) PrometheusURL() string { return s.HostURL(s.Prometheus.Port) }

// GrafanaURL is the host URL of Grafana.
func (s *Stack) GrafanaURL() string { return s.HostURL(s.Grafana.Port) }

// AlertmanagerEnabled reports whether the stack runs Alertmanager (engine prometheus).
func (s *Stack) AlertmanagerEnabled() bool { return s.Alerting.Engine == EnginePrometheus }

// MailCatcherEnabled reports whether the stack runs the local mail catcher.
func (s *Stack) MailCatcherEnabled() bool { return s.SMTP.Mode == SMTPModeLocal }

// Compose labels every rendered service carries, in one namespace. The runner
// recognises services by these labels, never by name or port.
const (
	// LabelStack names the stack (stack.yaml's name:) on services and volumes.
	LabelStack = "io.stackgen.stack"
	// LabelRole is the service's role: one of the Role* constants.
	LabelRole = "io.stackgen.role"
	// LabelModel names the model a model server or exporter belongs to.
	LabelModel = "io.stackgen.model"
)

// Service roles, the values of LabelRole.
const (
	RoleModel        = "model"
	RoleExporter     = "exporter"
	RolePrometheus   = "prometheus"
	RoleGrafana      = "grafana"
	RoleAlertmanager = "alertmanager"
	RoleMailcatcher  = "mailcatcher"
)

// Fixed compose service names of the stack's shared services.
const (
	ServicePrometheus   = "prometheus"
	ServiceGrafana      = "grafana"
	ServiceAlertmanager = "alertmanager"
	ServiceMailcatcher  = "mailcatcher"
)

// Prometheus job and label names shared by the renderers (scrape config,
// rules, dashboards, alerts).
const (
	// ModelServerJob is the job of every model server scrape target that
	// exports TF Serving metrics.
	ModelServerJob = "model_server"
	// PrometheusJob is Prometheus' job scraping itself.
	PrometheusJob = "prometheus"
	// ModelLabel is the target label naming the model on every scrape target.
	ModelLabel = "model"
)

// GrafanaFolder is the Grafana folder holding the stack's dashboards and alert rules.
func (s *Stack) GrafanaFolder() string { return "stackgen " + s.Name }
