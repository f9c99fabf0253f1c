// Package stack is the stack.yaml model: loading, defaults and validation.
//
// Data flows one way: stack.yaml → Load → *Stack (defaults applied,
// validated) → renderers. Renderers never see an unvalidated Stack.
package stack

// Model kinds.
const (
	KindDemo      = "demo"      // stackgen's own demo model server (MLflow + TF Serving protocols)
	KindMLflow    = "mlflow"    // an MLflow scoring server image (mlflow models build-docker)
	KindTFServing = "tfserving" // tensorflow/serving with a SavedModel mounted from the host
	KindCustom    = "custom"    // any HTTP model server image or build context
	KindRemote    = "remote"    // a model served elsewhere, reached by URL
)

// Protocols a model server speaks; the exporter maps /predict onto them.
const (
	ProtocolMLflow    = "mlflow"
	ProtocolTFServing = "tfserving"
	ProtocolCustom    = "custom"
)

// Alerting engines.
const (
	EngineGrafana    = "grafana"
	EnginePrometheus = "prometheus"
)

// SMTP modes.
const (
	SMTPModeExternal = "external" // a real mail server (host, user, password)
	SMTPModeLocal    = "local"    // stackgen's mail catcher inside the stack
	SMTPModeOff      = "off"      // no email delivery
)

// Alert sources: which metrics an alert is computed on.
const (
	SourceExporter    = "exporter"     // the exporter proxy's http_* / process_* metrics
	SourceModelServer = "model_server" // TF Serving's :tensorflow:serving:* metrics
)

// Stack is the whole of stack.yaml after defaults are applied.
type Stack struct {
	// Name of the stack; the compose project name. Lower-case letters, digits, '-' and '_'.
	Name string `yaml:"name" json:"name" jsonschema:"pattern=^[a-z0-9][a-z0-9_-]*$"`
	// BindAddress is the host address published ports bind to (default 127.0.0.1).
	BindAddress string `yaml:"bind_address,omitempty" json:"bind_address,omitempty"`
	// StackgenImage is the locally built image that runs stackgen's own services
	// (exporter, demo model, mail catcher).
	StackgenImage string `yaml:"stackgen_image,omitempty" json:"stackgen_image,omitempty"`
	// Models are the model servers; each gets its own exporter, scrape targets and dashboard.
	Models []Model `yaml:"models" json:"models" jsonschema:"minItems=1"`
	// Exporter holds settings shared by every model's exporter proxy.
	Exporter Exporter `yaml:"exporter,omitempty" json:"exporter,omitempty"`
	// Prometheus configures the Prometheus service.
	Prometheus Prometheus `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Grafana configures the Grafana service.
	Grafana Grafana `yaml:"grafana,omitempty" json:"grafana,omitempty"`
	// Alerting chooses the alert engine and the default alert set.
	Alerting Alerting `yaml:"alerting,omitempty" json:"alerting,omitempty"`
	// Alerts adds alerts, or overrides or disables defaults by name.
	Alerts []Alert `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// SMTP configures email delivery of alerts.
	SMTP SMTP `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	// Target is what render produces by default: compose (one host) or kubernetes
	// (manifests for kube-prometheus-stack); --target overrides it.
	Target string `yaml:"target,omitempty" json:"target,omitempty" jsonschema:"enum=compose,enum=kubernetes"`
	// Kubernetes configures the kubernetes target.
	Kubernetes Kubernetes `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`

	// File is the path stack.yaml was loaded from (not part of the file).
	File string `yaml:"-" json:"-"`

	// pos locates the fields of the file the stack was parsed from, so
	// checks made after loading (CheckSecrets) still point at a line.
	pos positions
}

// Model is one model server.
type Model struct {
	// Name of the model; used for service names, labels and dashboard titles.
	Name string `yaml:"name" json:"name" jsonschema:"pattern=^[a-z0-9]([a-z0-9-]*[a-z0-9])?$,maxLength=54"`
	// Kind of model server.
	Kind string `yaml:"kind" json:"kind" jsonschema:"enum=demo,enum=mlflow,enum=tfserving,enum=custom,enum=remote"`
	// Image of the model server (mlflow, tfserving, custom). Pin a tag.
	Image string `yaml:"image,omitempty" json:"image,omitempty"`
	// Build is a Docker build context (folder) for a custom model server, relative to stack.yaml.
	Build string `yaml:"build,omitempty" json:"build,omitempty"`
	// Port is the port the model server listens on inside its container.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// HostPort publishes the model server on the host (0: not published).
	HostPort int `yaml:"host_port,omitempty" json:"host_port,omitempty" jsonschema:"minimum=0,maximum=65535"`
	// Protocol the server speaks (mlflow, tfserving, custom); fixed by kind except for remote and custom.
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty" jsonschema:"enum=mlflow,enum=tfserving,enum=custom"`
	// PredictPath is the server's prediction endpoint (custom, or to override the protocol default).
	PredictPath string `yaml:"predict_path,omitempty" json:"predict_path,omitempty"`
	// HealthPath is the server's readiness endpoint.
	HealthPath string `yaml:"health_path,omitempty" json:"health_path,omitempty"`
	// MetricsPath, when set, is scraped on the model server itself (TF Serving and demo:
	// /monitoring/prometheus/metrics).
	MetricsPath string `yaml:"metrics_path,omitempty" json:"metrics_path,omitempty"`
	// ModelName is the TF Serving model name (/v1/models/NAME).
	ModelName string `yaml:"model_name,omitempty" json:"model_name,omitempty"`
	// ModelBasePath is the host folder holding the SavedModel versions, mounted at /models/NAME (tfserving).
	ModelBasePath string `yaml:"model_base_path,omitempty" json:"model_base_path,omitempty"`
	// Replicas of the model server (default 1).
	Replicas int `yaml:"replicas,omitempty" json:"replicas,omitempty" jsonschema:"minimum=1"`
	// Environment variables for the model server.
	Environment map[string]string `yaml:"environment,omitempty" json:"environment,omitempty"`
	// URL of a remote model server (kind remote); https is allowed.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// TLSSkipVerify skips TLS certificate checks when scraping a remote https server.
	TLSSkipVerify bool `yaml:"tls_skip_verify,omitempty" json:"tls_skip_verify,omitempty"`
	// ExporterPort is the host port of this model's exporter (default exporter.port + index).
	ExporterPort int `yaml:"exporter_port,omitempty" json:"exporter_port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// Drift turns on feature and prediction drift monitoring against a training baseline (absent: off; drift: {} on kind demo uses the demo model's baseline).
	Drift *Drift `yaml:"drift,omitempty" json:"drift,omitempty"`
}

// Exporter holds settings shared by the exporter proxies.
type Exporter struct {
	// Port is the first host port for exporters; model i gets Port+i unless it sets exporter_port.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// Buckets of http_request_duration_seconds, in seconds, ascending.
	Buckets []float64 `yaml:"buckets,omitempty" json:"buckets,omitempty"`
	// Timeout for a request to the model server.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxBody is the largest request body accepted, in bytes.
	MaxBody int64 `yaml:"max_body,omitempty" json:"max_body,omitempty" jsonschema:"minimum=1"`
	// BodyTimeout is how long the exporter waits for a request body to arrive (408 after it); at least 1s.
	BodyTimeout Duration `yaml:"body_timeout,omitempty" json:"body_timeout,omitempty"`
	// MaxInFlight caps the requests one exporter serves at once (503 above it).
	MaxInFlight int `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty" jsonschema:"minimum=1"`
}

// Prometheus configures the Prometheus service.
type Prometheus struct {
	// Image of Prometheus. Pin a tag.
	Image string `yaml:"image,omitempty" json:"image,omitempty"`
	// Port published on the host.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// ScrapeInterval of every scrape job.
	ScrapeInterval Duration `yaml:"scrape_interval,omitempty" json:"scrape_interval,omitempty"`
	// EvaluationInterval of rule groups.
	EvaluationInterval Duration `yaml:"evaluation_interval,omitempty" json:"evaluation_interval,omitempty"`
	// Retention of the TSDB (e.g. 15d).
	Retention string `yaml:"retention,omitempty" json:"retention,omitempty"`
	// JobName of the exporter scrape job; seed dashboards query job="ml_model_exporter".
	JobName string `yaml:"job_name,omitempty" json:"job_name,omitempty"`
}

// Grafana configures the Grafana service.
type Grafana struct {
	// Enabled adds Grafana to the stack (default true).
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Image of Grafana. Pin a tag.
	Image string `yaml:"image,omitempty" json:"image,omitempty"`
	// Port published on the host.
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	// AdminUser is the Grafana admin login; the password comes from STACKGEN_GRAFANA_ADMIN_PASSWORD.
	AdminUser string `yaml:"admin_user,omitempty" json:"admin_user,omitempty"`
}

// IsEnabled reports whether Grafana is part of the stack.
func (g Grafana) IsEnabled() bool { return g.Enabled == nil || *g.Enabled }

// Alerting chooses the alert engine.
type Alerting struct {
	// Engine evaluating the alerts: grafana (unified alerting) or prometheus (rules + Alertmanager).
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty" jsonschema:"enum=grafana,enum=prometheus"`
	// Defaults turns the built-in default alert set on (default true).
	Defaults *bool `yaml:"defaults,omitempty" json:"defaults,omitempty"`
	// AlertmanagerImage is the Alertmanager image (engine prometheus). Pin a tag.
	AlertmanagerImage string `yaml:"alertmanager_image,omitempty" json:"alertmanager_image,omitempty"`
	// AlertmanagerPort is Alertmanager's host port (engine prometheus).
	AlertmanagerPort int `yaml:"alertmanager_port,omitempty" json:"alertmanager_port,omitempty" jsonschema:"minimum=1,maximum=65535"`
}

// DefaultsEnabled reports whether the built-in default alerts apply.
func (a Alerting) DefaultsEnabled() bool { return a.Defaults == nil || *a.Defaults }

// Alert is one alert: a built-in kind with parameters, or a custom PromQL expression.
// An alert whose name matches a default alert overrides it field by field.
type Alert struct {
	// Name identifies the alert; unique within the stack.
	Name string `yaml:"name" json:"name"`
	// Kind of alert (see the alerting package catalog), or custom.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Model limits the alert to one model (default: every model).
	Model string `yaml:"model,omitempty" json:"model,omitempty"`
	// Source of the metrics: exporter (default) or model_server (TF Serving metrics).
	Source string `yaml:"source,omitempty" json:"source,omitempty" jsonschema:"enum=exporter,enum=model_server"`
	// Threshold the alert compares against (units depend on the kind).
	Threshold *float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Factor is the spike multiplier k in rate[1m] > k × rate[15m] (traffic_spike).
	Factor *float64 `yaml:"factor,omitempty" json:"factor,omitempty"`
	// Window is the rate/quantile window (e.g. 5m).
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// For is how long the condition must hold before the alert fires.
	For *Duration `yaml:"for,omitempty" json:"for,omitempty"`
	// Severity label (critical, warning, info).
	Severity string `yaml:"severity,omitempty" json:"severity,omitempty" jsonschema:"enum=critical,enum=warning,enum=info"`
	// Enabled switches the alert off when false.
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Expr is the PromQL condition of a custom alert (fires when it returns a series).
	Expr string `yaml:"expr,omitempty" json:"expr,omitempty"`
	// Summary overrides the notification summary.
	Summary string `yaml:"summary,omitempty" json:"summary,omitempty"`
}

// IsEnabled reports whether the alert is on.
func (a Alert) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// SMTP configures email delivery. The password comes from STACKGEN_SMTP_PASSWORD
// or PasswordFile and never appears in rendered files.
type SMTP struct {
	// Mode: external (a real server), local (stackgen's mail catcher) or off.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty" jsonschema:"enum=external,enum=local,enum=off"`
	// Host is host:port of the SMTP server (external).
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// User for SMTP authentication.
	User string `yaml:"user,omitempty" json:"user,omitempty"`
	// PasswordFile holds the SMTP password (instead of STACKGEN_SMTP_PASSWORD), relative to stack.yaml.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// FromAddress of alert emails.
	FromAddress string `yaml:"from_address,omitempty" json:"from_address,omitempty"`
	// FromName of alert emails.
	FromName string `yaml:"from_name,omitempty" json:"from_name,omitempty"`
	// Recipients of alert emails.
	Recipients []string `yaml:"recipients,omitempty" json:"recipients,omitempty"`
	// StartTLSPolicy: OpportunisticStartTLS, MandatoryStartTLS or NoStartTLS.
	StartTLSPolicy string `yaml:"starttls_policy,omitempty" json:"starttls_policy,omitempty" jsonschema:"enum=OpportunisticStartTLS,enum=MandatoryStartTLS,enum=NoStartTLS"`
	// SkipVerify skips the server certificate check.
	SkipVerify bool `yaml:"skip_verify,omitempty" json:"skip_verify,omitempty"`
	// WebPort is the host port of the local mail catcher's web page and API (mode local).
	WebPort int `yaml:"web_port,omitempty" json:"web_port,omitempty" jsonschema:"minimum=1,maximum=65535"`
}

// Enabled reports whether alert emails are delivered.
func (s SMTP) Enabled() bool { return s.Mode != SMTPModeOff }
