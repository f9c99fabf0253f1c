package stack

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/distribution/reference"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	promtemplate "github.com/prometheus/prometheus/template"
)

// Environment variables holding the stack's secrets at `up` time. Their
// values never appear in rendered files.
const (
	EnvSMTPPassword         = "STACKGEN_SMTP_PASSWORD"
	EnvGrafanaAdminPassword = "STACKGEN_GRAFANA_ADMIN_PASSWORD"
)

// MaxServiceName is the longest service name: a DNS label (Docker's DNS
// resolves services by name), so 63 characters.
const MaxServiceName = 63

// MinInterval is the shortest scrape, evaluation or body-read interval.
const MinInterval = time.Second

// secretFields are keys people write to put a secret into stack.yaml; the
// unknown-field problem then says where the secret goes instead.
var secretFields = map[string]string{
	"smtp.password":          "secrets are never written in stack.yaml: export " + EnvSMTPPassword + " or set smtp.password_file (a file holding the password, relative to stack.yaml)",
	"smtp.pass":              "secrets are never written in stack.yaml: export " + EnvSMTPPassword + " or set smtp.password_file (a file holding the password, relative to stack.yaml)",
	"grafana.admin_password": "secrets are never written in stack.yaml: export " + EnvGrafanaAdminPassword + " before 'stackgen up'",
	"grafana.password":       "secrets are never written in stack.yaml: export " + EnvGrafanaAdminPassword + " before 'stackgen up'",
}

// explicitZeros reports numbers and durations written as 0 in the file.
// Defaults fill fields that are absent; a 0 written on purpose (port: 0,
// scrape_interval: 0s) is an error, not a request for the default.
func (s *Stack) explicitZeros(pos positions) Problems {
	v := &validator{pos: pos}
	set := func(field string) bool {
		p, ok := pos[field]
		return ok && !p.null
	}
	port := func(field string, got int, fix string) {
		if got == 0 && set(field) {
			v.add(field, "must be a port between 1 and 65535 (got 0); %s", fix)
		}
	}
	interval := func(field string, got Duration, def time.Duration) {
		if got == 0 && set(field) {
			v.add(field, "must be at least %s (got 0s); remove the line for the default %s", Duration(MinInterval), Duration(def))
		}
	}
	count := func(field string, got int64, def int64) {
		if got == 0 && set(field) {
			v.add(field, "must be >= 1 (got 0); remove the line for the default %d", def)
		}
	}
	for i, m := range s.Models {
		p := fmt.Sprintf("models[%d]", i)
		port(p+".port", m.Port, "remove the line for the kind's default")
		port(p+".host_port", m.HostPort, "remove host_port to leave the model server unpublished")
		port(p+".exporter_port", m.ExporterPort, "remove the line for the default exporter.port + the model's index")
		count(p+".replicas", int64(m.Replicas), 1)
		driftZeros(v, p+".drift", m.Drift, set)
	}
	port("exporter.port", s.Exporter.Port, fmt.Sprintf("remove the line for the default %d", DefaultExporterPort))
	port("prometheus.port", s.Prometheus.Port, fmt.Sprintf("remove the line for the default %d", DefaultPrometheusPort))
	port("grafana.port", s.Grafana.Port, fmt.Sprintf("remove the line for the default %d", DefaultGrafanaPort))
	port("alerting.alertmanager_port", s.Alerting.AlertmanagerPort, fmt.Sprintf("remove the line for the default %d", DefaultAlertmanagerPort))
	port("smtp.web_port", s.SMTP.WebPort, fmt.Sprintf("remove the line for the default %d", DefaultMailWebPort))
	interval("exporter.timeout", s.Exporter.Timeout, DefaultTimeout)
	interval("exporter.body_timeout", s.Exporter.BodyTimeout, DefaultBodyTimeout)
	interval("prometheus.scrape_interval", s.Prometheus.ScrapeInterval, DefaultScrapeInterval)
	interval("prometheus.evaluation_interval", s.Prometheus.EvaluationInterval, DefaultEvalInterval)
	count("exporter.max_body", s.Exporter.MaxBody, DefaultMaxBody)
	count("exporter.max_in_flight", int64(s.Exporter.MaxInFlight), DefaultMaxInFlight)
	return v.probs
}

// minInterval reports a duration shorter than MinInterval.
func (v *validator) minInterval(field string, d Duration) {
	if d < Duration(MinInterval) {
		v.add(field, "must be at least %s (got %s)", Duration(MinInterval), time.Duration(d))
	}
}

// image checks an image reference as Docker parses it.
func (v *validator) image(field, ref, example string) {
	if ref == "" {
		return
	}
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		v.add(field, "is not a valid image reference (%v; got %q); write e.g. %s", err, ref, example)
	}
}

// images checks every image reference of the stack.
func (v *validator) images(s *Stack) {
	v.image("stackgen_image", s.StackgenImage, DefaultStackgenImage)
	for i, m := range s.Models {
		v.image(fmt.Sprintf("models[%d].image", i), m.Image, "ghcr.io/acme/model:1.2")
	}
	v.image("prometheus.image", s.Prometheus.Image, DefaultPrometheusImage)
	v.image("grafana.image", s.Grafana.Image, DefaultGrafanaImage)
	v.image("alerting.alertmanager_image", s.Alerting.AlertmanagerImage, DefaultAlertmanagerImage)
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// services checks that every compose service the stack renders has a name of
// its own: a model named a-exporter and the exporter of model a would
// otherwise be one service, and one would silently replace the other.
func (v *validator) services(s *Stack) {
	seen := map[string]string{
		ServicePrometheus: "the Prometheus service",
	}
	if s.Grafana.IsEnabled() {
		seen[ServiceGrafana] = "the Grafana service"
	}
	if s.AlertmanagerEnabled() {
		seen[ServiceAlertmanager] = "the Alertmanager service"
	}
	if s.MailCatcherEnabled() {
		seen[ServiceMailcatcher] = "the mail catcher service"
	}
	names := map[string]bool{}
	claim := func(field, name, desc string) {
		if prev, dup := seen[name]; dup {
			v.add(field, "service %q would be rendered twice: %s and %s; rename one of the models", name, prev, desc)
			return
		}
		seen[name] = desc
	}
	for i, m := range s.Models {
		if !dnsLabelRE.MatchString(m.Name) || names[m.Name] || reservedModelName(m.Name) {
			continue // reported by model()
		}
		names[m.Name] = true
		field := fmt.Sprintf("models[%d].name", i)
		if m.HasServer() {
			claim(field, m.ServiceName(), fmt.Sprintf("model %q (models[%d])", m.Name, i))
		}
		claim(field, m.ExporterService(), fmt.Sprintf("the exporter of model %q (models[%d])", m.Name, i))
	}
}

// reservedModelName reports names of the stack's own services.
func reservedModelName(n string) bool {
	return n == ServicePrometheus || n == ServiceGrafana || n == ServiceAlertmanager || n == ServiceMailcatcher
}

// serviceNameLength reports a model name whose exporter service would not be
// a DNS label.
func (v *validator) serviceNameLength(field string, m Model) {
	if n := len(m.ExporterService()); n > MaxServiceName {
		v.add(field, "is %d characters; its exporter service %q would be %d, more than the %d a DNS label allows: use at most %d characters",
			len(m.Name), m.ExporterService(), n, MaxServiceName, MaxServiceName-len(m.ExporterService())+len(m.Name))
	}
}

// Template variables defined before an annotation, as each engine defines
// them: Prometheus' rule manager (see rulefmt's template test) and Grafana's
// ngalert state/template.Expand.
const (
	promTemplateDefs    = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	grafanaTemplateDefs = "{{- $labels := .Labels -}}{{- $values := .Values -}}{{- $value := .Value -}}"
)

// grafanaFuncs are the functions Grafana adds to Prometheus' template
// functions for alert annotations (grafana/pkg/services/ngalert/state/
// template/funcs.go). Grafana is not importable as a Go module, so only their
// names are mirrored here: parsing a template checks that each function
// exists, not its arguments.
var grafanaFuncs = template.FuncMap{
	"filterLabels":     func(any, string) any { return nil },
	"filterLabelsRe":   func(any, string) any { return nil },
	"graphLink":        func(string) string { return "" },
	"removeLabels":     func(any, string) any { return nil },
	"removeLabelsRe":   func(any, string) any { return nil },
	"tableLink":        func(string) string { return "" },
	"mergeLabelValues": func(any) any { return nil },
}

// CheckAnnotationTemplate parses text as an alert annotation template of
// engine (EnginePrometheus or EngineGrafana) with that engine's template
// engine: Prometheus' template package, with Grafana's extra functions and
// $values for Grafana. It returns nil when the engine would accept it.
func CheckAnnotationTemplate(engine, name, text string) error {
	defs, funcs := promTemplateDefs, template.FuncMap(nil)
	if engine == EngineGrafana {
		defs, funcs = grafanaTemplateDefs, grafanaFuncs
	}
	e := promtemplate.NewTemplateExpander(context.Background(), defs+text, "__alert_"+name, nil, model.Time(0), nil, nil, nil)
	if funcs != nil {
		e.Funcs(funcs)
	}
	if err := e.ParseTest(); err != nil {
		// "template: __alert_x:1: unclosed action" → "line 1: unclosed action"
		msg := strings.TrimPrefix(err.Error(), "template: __alert_"+name+":")
		return fmt.Errorf("line %s", msg)
	}
	return expandTest(engine, name, defs+text, funcs)
}

// grafanaData mirrors the data Grafana expands annotations with
// (ngalert state/template.Data), for the fields a template can name.
type grafanaData struct {
	Labels map[string]string
	Values map[string]grafanaValue
	Value  string
}

type grafanaValue struct {
	Labels map[string]string
	Value  float64
}

// expandTest expands the template on sample alert data and reports a field
// that the engine's data does not have ({{ .Invalid }}), which parses but
// fails on every alert. Other execution errors depend on the values of the
// firing alert (a label it lacks, a value humanize cannot read), so they are
// not reported.
func expandTest(engine, name, text string, funcs template.FuncMap) error {
	labels := map[string]string{"alertname": name, ModelLabel: "m", "severity": "warning", "stack": "s"}
	var data any = promtemplate.AlertTemplateData(labels, map[string]string{"stack": "s"}, "", promql.Sample{F: 1})
	var opts []string
	if engine == EngineGrafana {
		v := grafanaValue{Labels: labels, Value: 1}
		data = grafanaData{Labels: labels, Values: map[string]grafanaValue{"A": v, "B": v, "C": v}, Value: "[ var='B' value=1 ]"}
		opts = []string{"missingkey=invalid"}
	}
	noQuery := func(context.Context, string, time.Time) (promql.Vector, error) { return nil, nil }
	e := promtemplate.NewTemplateExpander(context.Background(), text, "__alert_"+name, data, model.Time(0), noQuery, nil, opts)
	if funcs != nil {
		e.Funcs(funcs)
	}
	_, err := e.Expand()
	if err != nil && strings.Contains(err.Error(), "can't evaluate field") {
		msg := err.Error()
		if i := strings.Index(msg, "can't evaluate field"); i >= 0 {
			msg = msg[i:]
		}
		msg, _, _ = strings.Cut(msg, " in type")
		fields := ".Labels, .ExternalLabels, .ExternalURL, .Value"
		if engine == EngineGrafana {
			fields = ".Labels, .Values, .Value"
		}
		return fmt.Errorf("%s: the alert's data has %s", msg, fields)
	}
	return nil
}

// annotation checks a user-written annotation template of the stack's engine.
func (v *validator) annotation(s *Stack, field, name, text string) {
	if text == "" || (s.Alerting.Engine != EngineGrafana && s.Alerting.Engine != EnginePrometheus) {
		return
	}
	if err := CheckAnnotationTemplate(s.Alerting.Engine, name, text); err != nil {
		what := "Prometheus"
		if s.Alerting.Engine == EngineGrafana {
			what = "Grafana"
		}
		v.add(field, "is not a valid %s alert template (%v); write plain text, or e.g. {{ $labels.model }}: {{ $value }}", what, err)
	}
}

// CheckSecrets reports the secrets the stack needs that are missing: the
// SMTP password of an external mail server with a user (from
// STACKGEN_SMTP_PASSWORD unless smtp.password_file is set) and Grafana's
// admin password (STACKGEN_GRAFANA_ADMIN_PASSWORD; Compose hands it to Grafana
// as a file and has no safe default). getenv is os.Getenv outside tests.
// Problems are located at the field that needs the secret.
func (s *Stack) CheckSecrets(getenv func(string) string) Problems {
	v := &validator{pos: s.pos}
	if v.pos == nil {
		v.pos = positions{}
	}
	m := s.SMTP
	if m.Mode == SMTPModeExternal && m.User != "" && m.PasswordFile == "" && getenv(EnvSMTPPassword) == "" {
		v.add(v.first("smtp.user", "smtp.host", "smtp"), "the mail server needs a password for user %q: export %s, or set smtp.password_file to a file holding it", m.User, EnvSMTPPassword)
	}
	if s.Grafana.IsEnabled() && getenv(EnvGrafanaAdminPassword) == "" {
		v.add(v.first("grafana.admin_user", "grafana"), "Grafana needs an admin password: export %s (it is handed to Grafana as a file, never written to deploy/), or set grafana.enabled: false", EnvGrafanaAdminPassword)
	}
	for i := range v.probs {
		v.probs[i].File = s.File
	}
	sortProblems(v.probs)
	return v.probs
}

// first returns the first of fields written in the file, or the last one.
func (v *validator) first(fields ...string) string {
	for _, f := range fields {
		if _, ok := v.pos[f]; ok {
			return f
		}
	}
	return fields[len(fields)-1]
}
